# Gunicorn's settings shared by every start (Procfile, Dockerfile, docker-compose.yml); each
# command line adds its bind address and worker count. The access log goes to stdout with
# the secrets in feed, link, invitation and reset URLs redacted (clinic/access_log.py).
accesslog = "-"
logger_class = "clinic.access_log.RedactingLogger"

# Cadence: one image for web (gunicorn, the default command), worker and beat (celery).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles

WORKDIR /app

# Dependencies first, so that code changes reuse this layer. pyproject.toml alone is enough:
# with [tool.setuptools] packages = [] the wheel is empty and pip installs only the runtime
# dependencies (psycopg[binary] ships wheels, so no compiler is needed). The in-tree build
# leaves build/ and *.egg-info behind; drop them.
COPY pyproject.toml ./
RUN pip install --no-cache-dir . && rm -rf build *.egg-info

COPY . .

# WhiteNoise's manifest storage needs collectstatic at build time. It needs no database: with no
# POSTGRES_* or DATABASE_URL set, settings fall back to SQLite and only create VAR_DIR. The key
# exists for this command only. Static files go outside VAR_DIR (root-owned, read-only to the
# app) so that a volume mounted on /app/var cannot hide them. The settings refuse a start
# without a real key (and would otherwise bake one into var/): a throwaway one, for this only.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --user-group --no-create-home --home-dir /app cadence \
    && mkdir -p "$VAR_DIR" \
    && chown cadence:cadence "$VAR_DIR"

USER cadence

EXPOSE 8000
# Every start runs Django's deployment checks first: a missing setting stops it.
CMD ["sh", "-c", "python manage.py check --deploy --fail-level WARNING && exec gunicorn clinic.wsgi:application --config gunicorn.conf.py --bind 0.0.0.0:8000 --workers 3"]

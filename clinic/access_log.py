"""Gunicorn's access log without the secrets some URLs carry.

The private calendar feed (/feed/<token>.ics), the signed links in messages
(/r/confirm|cancel|stop|offer/<token>/) and their short links in texts (/s/<code>), invitations
(/welcome/<uid>/<token>/) and password resets (/accounts/reset/<uid>/<token>/) are keys in
themselves: whoever reads the log could use them.
The log keeps the route and the status and drops the key, in the request line, the path and
the Referer (the page after a link's button names the link). gunicorn.conf.py installs it.
"""

import re

from gunicorn.glogging import Logger  # type: ignore[import-untyped]

REDACTED = "[redacted]"
SECRET_PATHS = [
    re.compile(r"(/feed/)[^/?#\s]+(\.ics)"),
    re.compile(r"(/r/(?:confirm|cancel|stop|offer)/)[^/?#\s]+()"),
    re.compile(r"(/s/)[^/?#\s]+()"),
    re.compile(r"(/(?:welcome|accounts/reset)/)[^/?#\s]+/[^/?#\s]+()"),
]


def redact(text: str) -> str:
    for pattern in SECRET_PATHS:
        text = pattern.sub(rf"\g<1>{REDACTED}\g<2>", text)
    return text


class RedactingLogger(Logger):
    """Gunicorn's logger, with every text atom of the access log line redacted."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()
        }

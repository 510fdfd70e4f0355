"""System checks for the reminder outbox's settings (docs/architecture.md, "The reminder
path"): a channel that may hang longer than the lease would let a second worker send the same
message while the first is still waiting for the relay."""

from django.conf import settings
from django.core.checks import Error, Warning, register

from clinic.sms import is_gsm7

# Issue 13: a claim whose message was lost with the broker is claimed again within 5 minutes.
RECLAIM_WITHIN_SECONDS = 300
# Issue 15: the longest base of the short links (SMS_LINK_URL, else SITE_URL) with which every
# text fits one segment, with the longest clinic name and phone (tests/treatments/
# test_sms_length.py): "https://" and 20 characters of host.
SMS_LINK_URL_MAX_LENGTH = 28


@register()
def channel_timeouts_inside_the_lease(app_configs=None, **kwargs) -> list[Error | Warning]:
    lease = settings.REMINDER_LEASE_SECONDS
    margin = settings.REMINDER_SEND_MARGIN_SECONDS
    errors: list[Error | Warning] = []
    for name in ("EMAIL_TIMEOUT", "SMS_TIMEOUT"):
        timeout = getattr(settings, name, None)
        if timeout is None or timeout <= 0:
            errors.append(
                Error(
                    f"{name} is not set: a hanging relay would outlive the reminder lease.",
                    hint=f"Set {name} to a number of seconds below REMINDER_LEASE_SECONDS.",
                    id="treatments.E001",
                )
            )
        elif timeout + margin >= lease:
            errors.append(
                Error(
                    f"{name} ({timeout} s) plus REMINDER_SEND_MARGIN_SECONDS ({margin} s) is "
                    f"not below REMINDER_LEASE_SECONDS ({lease} s): a slow send could outlive "
                    "its claim and go out twice.",
                    hint=f"Lower {name} or raise REMINDER_LEASE_SECONDS.",
                    id="treatments.E002",
                )
            )
    dispatch = settings.CELERY_BEAT_SCHEDULE["dispatch-reminders"]["schedule"]
    queue_timeout = settings.REMINDER_QUEUE_TIMEOUT_SECONDS
    if queue_timeout + dispatch > RECLAIM_WITHIN_SECONDS:
        errors.append(
            Warning(
                f"A reminder lost with the broker waits up to {queue_timeout + dispatch:.0f} s "
                f"(REMINDER_QUEUE_TIMEOUT_SECONDS {queue_timeout} + REMINDER_DISPATCH_SECONDS "
                f"{dispatch:.0f}) before it is claimed again.",
                hint=f"Keep the two under {RECLAIM_WITHIN_SECONDS} s together.",
                id="treatments.W003",
            )
        )
    return errors


@register()
def sms_links_fit_one_segment(app_configs=None, **kwargs) -> list[Warning]:
    """The short links' base must leave room for the words of a one-segment text, and be
    GSM-7 (one other character would send every text as UCS-2, 70 characters a segment)."""
    name = "SMS_LINK_URL" if settings.SMS_LINK_URL else "SITE_URL"
    base = (settings.SMS_LINK_URL or settings.SITE_URL).rstrip("/")
    if len(base) <= SMS_LINK_URL_MAX_LENGTH and is_gsm7(base):
        return []
    return [
        Warning(
            f"{name} ({base}) is longer than {SMS_LINK_URL_MAX_LENGTH} characters or not "
            "plain ASCII: text messages with its links take more than one segment each.",
            hint=(
                f"Set SMS_LINK_URL to a shorter address of the same site (at most "
                f"{SMS_LINK_URL_MAX_LENGTH} characters, in ALLOWED_HOSTS)."
            ),
            id="treatments.W004",
        )
    ]


@register(deploy=True)
def site_url_set_in_production(app_configs=None, **kwargs) -> list[Error]:
    """Production's messages must link to the clinic's real address: the embedded default's
    (this machine, on PORT) would send patients to 127.0.0.1, and name every installation's
    Message-IDs and calendar UIDs alike."""
    if settings.EMBEDDED or settings.SITE_URL_SET:
        return []
    return [
        Error(
            "SITE_URL is not set: the links in messages would point at 127.0.0.1.",
            hint="Set SITE_URL to the address patients reach Cadence at (https://...).",
            id="treatments.E004",
        )
    ]

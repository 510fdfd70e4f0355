"""Texts through Twilio's Messages API, on Twilio's own Python package (SMS_BACKEND =
"treatments.sms_twilio.TwilioSmsBackend").

Every request gives up after SMS_TIMEOUT (connect and read). Each message names the status
callback (SITE_URL + the webhook's path), so Twilio reports its delivery
(treatments/views/webhooks.py). What an error means for the outbox:

- 429 (too many requests), any 5xx, a refused connection, a timeout: TransientSendError, and
  the outbox tries again later with its backoff;
- any other 4xx (21211 invalid number, 21610 the recipient replied STOP, 21614 not a mobile,
  a wrong account or token...): PermanentSendError with Twilio's code and message, and the
  reminder ends failed with that reason for the front desk.

Nothing of the message (number, text) is logged: the twilio package's own request log is
turned down to warnings in settings.LOGGING.
"""

import functools
import re

import requests
from django.conf import settings
from django.urls import reverse
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from treatments.channels import (
    Message,
    PermanentSendError,
    SendError,
    SmsBackend,
    TransientSendError,
)

# A Messaging Service's SID (MG + 32 hex digits) is sent as MessagingServiceSid, not From.
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}\Z")


def status_callback_url() -> str:
    """Where Twilio posts a message's delivery status: the URL it will also sign."""
    return settings.SITE_URL.rstrip("/") + reverse("webhooks:twilio_status")


@functools.lru_cache(maxsize=4)
def _client(account_sid: str, auth_token: str, base_url: str, timeout: float) -> Client:
    """One client (and its pooled HTTP session) per process and configuration."""
    client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = base_url.rstrip("/")
    return client


def refusal(status: int, code: int | None, text: str | None) -> SendError:
    """Twilio's error answer as the outbox's error: transient for 429 and 5xx, else permanent,
    with Twilio's code (21211) and message as the reason."""
    # the package puts its own words before Twilio's message: the front desk needs Twilio's
    text = (text or "").removeprefix("Unable to create record: ") or "no message"
    reason = f"Twilio {code or status}: {text}"
    if status == 429 or status >= 500:
        return TransientSendError(reason)
    return PermanentSendError(reason)


class TwilioSmsBackend(SmsBackend):
    """Hands a text to Twilio; returns the message's SID ("SM...")."""

    def send(self, message: Message) -> str:
        if not (settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN):
            raise PermanentSendError("Twilio is not configured (TWILIO_ACCOUNT_SID, TOKEN).")
        if not settings.TWILIO_FROM:
            raise PermanentSendError("Twilio is not configured (TWILIO_FROM).")
        client = _client(
            settings.TWILIO_ACCOUNT_SID,
            settings.TWILIO_AUTH_TOKEN,
            settings.TWILIO_API_BASE_URL,
            float(self.timeout),
        )
        sender = settings.TWILIO_FROM
        origin = (
            {"messaging_service_sid": sender}
            if MESSAGING_SERVICE_SID.match(sender)
            else {"from_": sender}
        )
        try:
            sent = client.messages.create(
                to=message.to,
                body=message.body,
                status_callback=status_callback_url(),
                **origin,
            )
        except TwilioRestException as error:
            raise refusal(error.status, error.code, error.msg) from error
        except TwilioServiceException as error:  # the newer (RFC 9457) shape of an error
            raise refusal(error.status, error.code, error.detail or error.title) from error
        except requests.Timeout as error:
            raise TransientSendError(f"Twilio did not answer within {self.timeout} s.") from error
        except requests.RequestException as error:
            raise TransientSendError(f"Twilio unreachable: {type(error).__name__}") from error
        except (TwilioException, ValueError) as error:  # an answer that could not be read
            raise TransientSendError(f"Twilio: {type(error).__name__}") from error
        if not sent.sid:
            raise TransientSendError("Twilio answered without a message SID.")
        return sent.sid

"""Twilio's webhooks: delivery receipts (the status callback each text names) and the texts
patients send to the clinic's number. Public (no login, no CSRF token: Twilio cannot have
one), POST only, and each request must carry Twilio's signature over the URL as Twilio sees it
(SITE_URL + the path) and the form, made with the account's auth token: anything else gets 403
and changes nothing. Hostile values get 400; an unknown message gets 204, so that Twilio stops
trying. Nothing of a text (number, words) is logged."""

import logging
import re
from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from treatments.services.sms_replies import PROVIDER_STATUSES, receive_sms, record_delivery

logger = logging.getLogger(__name__)

MESSAGE_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}\Z")
ERROR_CODE = re.compile(r"\d{1,10}\Z")
MAX_BODY = 1600  # Twilio's longest message (10 segments)
MAX_NUMBER = 32


def signed_by_twilio(view):
    """Public and POST only; 403 unless the request carries a valid X-Twilio-Signature."""

    @wraps(view)
    def wrapped(request: HttpRequest) -> HttpResponse:
        url = settings.SITE_URL.rstrip("/") + request.get_full_path()
        signature = request.headers.get("X-Twilio-Signature", "")
        token = settings.TWILIO_AUTH_TOKEN
        if not (
            token and signature and RequestValidator(token).validate(url, request.POST, signature)
        ):
            logger.warning("Refused a Twilio webhook with a missing or bad signature.")
            return HttpResponseForbidden("Bad signature.")
        return view(request)

    return login_not_required(csrf_exempt(never_cache(require_POST(wrapped))))


@signed_by_twilio
def twilio_status(request: HttpRequest) -> HttpResponse:
    """A delivery receipt: MessageSid, MessageStatus, and ErrorCode when it failed."""
    sid = request.POST.get("MessageSid", "")
    status = request.POST.get("MessageStatus", "")
    error = request.POST.get("ErrorCode", "")
    if not MESSAGE_SID.match(sid) or status not in PROVIDER_STATUSES:
        return HttpResponseBadRequest("Bad MessageSid or MessageStatus.")
    if error and not ERROR_CODE.match(error):
        return HttpResponseBadRequest("Bad ErrorCode.")
    record_delivery(provider_message_id=sid, status=status, error_code=error)
    return HttpResponse(status=204)  # also for an unknown id: Twilio must not retry it


@signed_by_twilio
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """A text to the clinic's number: From, Body, MessageSid. The answer is TwiML: a message
    to send back (HELP, a confirmation), or none."""
    sid = request.POST.get("MessageSid", "")
    number = request.POST.get("From", "")
    body = request.POST.get("Body", "")
    if not MESSAGE_SID.match(sid) or not number or len(number) > MAX_NUMBER:
        return HttpResponseBadRequest("Bad MessageSid or From.")
    if len(body) > MAX_BODY or "\x00" in body or "\x00" in number:
        return HttpResponseBadRequest("Bad Body.")
    reply = receive_sms(provider_message_id=sid, from_number=number, body=body)
    twiml = MessagingResponse()
    if reply.answer:
        twiml.message(reply.answer)
    return HttpResponse(str(twiml), content_type="application/xml")

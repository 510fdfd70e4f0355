"""The SMS provider's webhooks (public: Twilio's signature is the key)."""

from django.urls import path

from treatments.views import webhooks

app_name = "webhooks"
urlpatterns = [
    path("twilio/status/", webhooks.twilio_status, name="twilio_status"),
    path("twilio/inbound/", webhooks.twilio_inbound, name="twilio_inbound"),
]

from treatments.models.alerts import Alert
from treatments.models.api_clients import ApiClient
from treatments.models.checkins import CheckIn
from treatments.models.exports import ExportJob
from treatments.models.inbox import InboundMessage
from treatments.models.payers import AuthorizationDocument, PriorAuthorization
from treatments.models.reminders import Reminder
from treatments.models.schedule import (
    AddDays,
    Appointment,
    AppointmentEvent,
    CallOutcome,
    Closure,
    DueState,
    InjectorDay,
    OpeningHours,
    TreatmentCourse,
)
from treatments.models.session import (
    AdverseEvent,
    InjectionSite,
    SessionAmendment,
    TreatmentSession,
    VialLot,
    VialUse,
)
from treatments.models.short_links import ShortLink
from treatments.models.waitlist import SlotOffer, WaitlistEntry

__all__ = [
    "ApiClient",
    "CheckIn",
    "ExportJob",
    "AddDays",
    "AdverseEvent",
    "Alert",
    "Appointment",
    "AppointmentEvent",
    "AuthorizationDocument",
    "CallOutcome",
    "InboundMessage",
    "Closure",
    "DueState",
    "InjectorDay",
    "OpeningHours",
    "PriorAuthorization",
    "Reminder",
    "InjectionSite",
    "SessionAmendment",
    "ShortLink",
    "SlotOffer",
    "TreatmentCourse",
    "TreatmentSession",
    "VialLot",
    "VialUse",
    "WaitlistEntry",
]

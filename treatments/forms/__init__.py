from treatments.forms.alerts import AdverseEventResolveForm, AlertAcknowledgeForm
from treatments.forms.authorizations import (
    AuthorizationDocumentForm,
    DocumentRemovalForm,
    PriorAuthorizationForm,
)
from treatments.forms.checkins import CheckInForm
from treatments.forms.schedule import (
    CallOutcomeForm,
    CancelForm,
    ConfirmForm,
    DateChangeForm,
    OwnSlotForm,
    PatientCancelForm,
    SlotChoiceForm,
)
from treatments.forms.sessions import (
    AdverseEventForm,
    AmendmentReasonForm,
    DiscardForm,
    SessionEntry,
    SideEffectForm,
    location_zone,
)

__all__ = [
    "AdverseEventForm",
    "AdverseEventResolveForm",
    "AlertAcknowledgeForm",
    "AuthorizationDocumentForm",
    "DocumentRemovalForm",
    "AmendmentReasonForm",
    "CallOutcomeForm",
    "CancelForm",
    "CheckInForm",
    "ConfirmForm",
    "DateChangeForm",
    "DiscardForm",
    "OwnSlotForm",
    "PatientCancelForm",
    "PriorAuthorizationForm",
    "SessionEntry",
    "SideEffectForm",
    "SlotChoiceForm",
    "location_zone",
]

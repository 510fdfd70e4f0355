from treatments.forms.alerts import AdverseEventResolveForm, AlertAcknowledgeForm
from treatments.forms.schedule import (
    CallOutcomeForm,
    CancelForm,
    ConfirmForm,
    DateChangeForm,
    PatientCancelForm,
    SlotChoiceForm,
    date_param,
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
    "AmendmentReasonForm",
    "CallOutcomeForm",
    "CancelForm",
    "ConfirmForm",
    "DateChangeForm",
    "DiscardForm",
    "PatientCancelForm",
    "SessionEntry",
    "SideEffectForm",
    "SlotChoiceForm",
    "date_param",
    "location_zone",
]

from treatments.models.session import (
    AdverseEvent,
    InjectionSite,
    SessionAmendment,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)

__all__ = [
    "AdverseEvent",
    "InjectionSite",
    "SessionAmendment",
    "TreatmentCourse",
    "TreatmentSession",
    "VialLot",
    "VialUse",
]

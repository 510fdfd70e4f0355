"""Closures and leave: the booked visits that fall inside one, for the front desk to move.
(The slot search leaves them out by itself: `schedule.available_slots`.)"""

import datetime

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from treatments.models import Appointment, Closure
from treatments.models.schedule import LocalDate, LocalTime


def closures_of_visit() -> QuerySet[Closure]:
    """The closures and leave an outer Appointment falls inside (for `OuterRef`): its
    location's, or its clinician's leave, on the visit's local day, read in the zone of the
    visit's location, whose times meet the visit's."""
    zone = OuterRef("location__time_zone")
    return Closure.objects.filter(
        Q(location=OuterRef("location")) | Q(clinician=OuterRef("clinician")),
        Q(from_time__isnull=True) | Q(from_time__lt=LocalTime(OuterRef("ends_at"), zone)),
        Q(to_time__isnull=True) | Q(to_time__gt=LocalTime(OuterRef("starts_at"), zone)),
        day=LocalDate(OuterRef("starts_at"), zone),
    )


def visits_in_closures(
    *, now: datetime.datetime, visits: QuerySet[Appointment] | None = None
) -> QuerySet[Appointment]:
    """Booked visits from `now` on inside a closure of their location or a leave of their
    clinician (of `visits`, say the user's), soonest first, with what a row shows (and
    `closure_reason`). One query; the booked visits ahead are
    read by the (status, starts_at) index and each probes the closures' indexes.

    A visit is taken to lie within one local day (the opening hours do), so its local start's
    date is the day matched."""
    visits = Appointment.objects.all() if visits is None else visits
    return (
        visits.filter(status=Appointment.Status.BOOKED, starts_at__gte=now)
        .filter(Exists(closures_of_visit()))
        .annotate(closure_reason=Subquery(closures_of_visit().values("reason")[:1]))
        .select_related("patient", "location", "clinician")
        .order_by("starts_at", "pk")
    )


def visits_inside(closure: Closure, *, now: datetime.datetime) -> QuerySet[Appointment]:
    """The booked visits from `now` on that this one closure or leave covers (the admin says
    how many right after saving it). Visits of its location or clinician within a day either
    side of its date, by their indexes, then matched exactly."""
    near = datetime.datetime.combine(closure.day, datetime.time(), datetime.UTC)
    owner = (
        Q(location_id=closure.location_id)
        if closure.location_id
        else Q(clinician_id=closure.clinician_id)
    )
    return Appointment.objects.filter(
        owner,
        status=Appointment.Status.BOOKED,
        starts_at__gte=max(now, near - datetime.timedelta(days=1)),
        starts_at__lt=near + datetime.timedelta(days=2),
    ).filter(Exists(closures_of_visit().filter(pk=closure.pk)))

from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from clinic.admin_site import CadenceModelAdmin
from treatments.models import (
    AdverseEvent,
    Appointment,
    AppointmentEvent,
    AuthorizationDocument,
    CallOutcome,
    Closure,
    InjectionSite,
    InjectorDay,
    OpeningHours,
    PriorAuthorization,
    SessionAmendment,
    TreatmentCourse,
    TreatmentSession,
    VialLot,
    VialUse,
)
from treatments.services.closures import visits_inside


class ReadOnlyAdmin(CadenceModelAdmin):
    """Clinical records change only through the clinician's pages, where the rules run and
    signed sessions stay locked; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class InjectionSiteInline(ReadOnlyInline):
    model = InjectionSite


class VialUseInline(ReadOnlyInline):
    model = VialUse


@admin.register(TreatmentSession)
class TreatmentSessionAdmin(ReadOnlyAdmin):
    list_display = ("patient", "cycle_number", "administered_at", "total_units", "status")
    list_filter = ("status", "location")
    list_select_related = ("patient",)
    inlines = [InjectionSiteInline, VialUseInline]


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(ReadOnlyAdmin):
    list_display = ("patient", "started_on", "status")
    list_select_related = ("patient",)


@admin.register(VialLot)
class VialLotAdmin(ReadOnlyAdmin):
    list_display = ("lot_number", "product", "expiry")


@admin.register(AdverseEvent)
class AdverseEventAdmin(ReadOnlyAdmin):
    list_display = ("patient", "term", "severity", "serious", "onset")
    list_select_related = ("patient",)


admin.site.register([InjectionSite, SessionAmendment], ReadOnlyAdmin)


@admin.register(VialUse)
class VialUseAdmin(ReadOnlyAdmin):
    list_select_related = ("lot",)  # its name shows the lot


# Clinic admins set the hours and the rota here; appointments change only through booking.
@admin.register(OpeningHours)
class OpeningHoursAdmin(CadenceModelAdmin):
    list_display = ("location", "weekday", "opens", "closes")
    list_filter = ("location",)
    list_select_related = ("location",)


@admin.register(InjectorDay)
class InjectorDayAdmin(CadenceModelAdmin):
    list_display = ("clinician", "location", "weekday")
    list_filter = ("location", "clinician")
    list_select_related = ("clinician", "location")


@admin.register(Closure)
class ClosureAdmin(CadenceModelAdmin):
    """Public holidays, one-off closures and part days of a location, and clinicians' leave.
    Saving one keeps the visits it covers (nothing is cancelled) and says how many to move."""

    list_display = ("day", "times", "location", "clinician", "reason")
    list_filter = ("location", "clinician")
    list_select_related = ("location", "clinician")
    fields = ("location", "clinician", "day", "from_time", "to_time", "reason")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        caught = visits_inside(obj, now=timezone.now()).count()
        if caught:
            messages.warning(
                request,
                format_html(
                    '{} booked visit{} fall{} inside it and {} kept: <a href="{}">move them</a>.',
                    caught,
                    "" if caught == 1 else "s",
                    "s" if caught == 1 else "",
                    "is" if caught == 1 else "are",
                    reverse("treatments:closure_visit_list"),
                ),
            )


@admin.register(Appointment)
class AppointmentAdmin(ReadOnlyAdmin):
    list_display = ("patient", "location", "clinician", "starts_at", "status")
    list_filter = ("status", "location")
    list_select_related = ("patient", "location", "clinician")


admin.site.register([AppointmentEvent, CallOutcome], ReadOnlyAdmin)  # names of their own fields


@admin.register(PriorAuthorization)
class PriorAuthorizationAdmin(ReadOnlyAdmin):
    """Recorded and edited by the front desk and clinicians on the patient's record."""

    list_display = ("patient", "payer", "reference", "valid_from", "valid_to")
    list_select_related = ("patient",)
    search_fields = ("reference",)


@admin.register(AuthorizationDocument)
class AuthorizationDocumentAdmin(ReadOnlyAdmin):
    """The file is never linked to its storage (no media URL is served): the admin links to
    the view that checks who asks and streams it as an attachment."""

    list_display = ("original_name", "content_type", "size", "uploaded_at")
    exclude = ("file",)
    readonly_fields = ("download",)

    @admin.display(description="file")
    def download(self, document: AuthorizationDocument) -> str:
        url = reverse("treatments:authorization_document", args=[document.pk])
        return format_html('<a href="{}">{}</a>', url, document.original_name)

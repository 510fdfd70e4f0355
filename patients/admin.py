from django.contrib import admin

from clinic.admin_site import CadenceModelAdmin
from patients.models import ContactConsent, Patient


class ContactConsentInline(admin.TabularInline):
    model = ContactConsent
    extra = 0
    fields = ("channel", "granted", "source", "recorded_by", "recorded_at")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Patient)
class PatientAdmin(CadenceModelAdmin):
    # No search box: admin search terms travel in the query string, and patient names must not.
    list_display = ("mrn", "last_name", "first_name", "status", "location", "primary_clinician")
    list_filter = ("status", "location")
    list_select_related = ("location", "primary_clinician")
    # Clinical fields change only on the clinician's intake page; a portal account is linked
    # only by inviting the patient (clinic/invitations.py), never by picking an account here.
    readonly_fields = (
        "user",
        "diagnosis_code",
        "baseline_headache_days",
        "baseline_migraine_days",
        "preventives_failed",
        "preventives_notes",
    )
    inlines = [ContactConsentInline]


@admin.register(ContactConsent)
class ContactConsentAdmin(CadenceModelAdmin):
    list_display = ("patient", "channel", "granted", "source", "recorded_at")
    list_filter = ("channel", "granted", "source")
    list_select_related = ("patient",)

    # Consent is recorded on the patient's page (with who and how); the admin only reads it.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import ReadOnlyPasswordHashWidget, UserChangeForm
from django.db.models import Exists, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import lockout, mfa
from clinic.admin_site import CadenceModelAdmin
from clinic.invitations import InvitationError, send_password_link
from clinic.models import Location, User


class PasswordSummaryWidget(ReadOnlyPasswordHashWidget):
    """The password summary as text: without Django's button to set or reset the password
    (nobody but its owner does), and without the `disabled` its read-only field puts on a
    <div> (not valid HTML as Django ships it)."""

    def render(self, name, value, attrs=None, renderer=None):
        summary = self.get_context(name, value, attrs)["summary"]
        return format_html(
            "<div>{}</div>",
            format_html_join(
                " ",
                "<strong>{}</strong>{}",
                (
                    (entry["label"], f": {entry['value']}" if entry.get("value") else "")
                    for entry in summary
                ),
            ),
        )


class CadenceUserChangeForm(UserChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].widget = PasswordSummaryWidget()
        # Only its owner sets a password: no link to the admin's password form (it is gone).
        self.fields["password"].help_text = (
            "Only the account's owner sets a password. Use the action “Email a link to choose "
            "a password” on the list of users."
        )


class CadenceUserCreationForm(forms.ModelForm):
    """A new account has no password: its owner chooses one from the emailed link."""

    class Meta:
        model = User
        fields = ("username", "role", "first_name", "last_name", "email")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].required = True
        self.fields[
            "role"
        ].help_text = "Patients' portal accounts are made by inviting the patient from their page."

    def clean_role(self):
        role = self.cleaned_data["role"]
        if role == User.Role.PATIENT:
            raise forms.ValidationError("Invite the patient from their page instead.")
        return role


@admin.register(User)
class CadenceUserAdmin(UserAdmin):
    form = CadenceUserChangeForm
    add_form = CadenceUserCreationForm
    list_display = (
        "username",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "second_factor",
        "locked_out",
        "last_login",
    )
    list_filter = ("role", "is_active")
    show_full_result_count = False  # as CadenceModelAdmin: portal accounts run to 100,000s
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("username", "password", "role")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "role", "first_name", "last_name", "email"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")
    actions = ["unlock", "reset_second_factor", "email_password_link"]

    def get_readonly_fields(self, request, obj=None):
        # The address the password link goes to is fixed once the account exists: an admin
        # who could change it could send themselves someone else's link.
        return (*self.readonly_fields, "email") if obj is not None else ()

    def get_urls(self):
        # No "set this user's password" page: a password is set only by its owner.
        return [url for url in super().get_urls() if url.name != "auth_user_password_change"]

    def get_queryset(self, request):
        since = timezone.now() - settings.AXES_COOLOFF_TIME
        failures = (
            AccessAttempt.objects.filter(username=OuterRef("username"), attempt_time__gte=since)
            .values("username")
            .annotate(total=Sum("failures_since_start"))
            .values("total")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                has_second_factor=Exists(
                    TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
                ),
                recent_failures=Coalesce(Subquery(failures), 0, output_field=IntegerField()),
            )
        )

    @admin.display(boolean=True, description="Second factor")
    def second_factor(self, obj) -> bool | None:
        if obj.role not in User.STAFF_ROLES:
            return None
        return obj.has_second_factor

    @admin.display(boolean=True, description="Locked out")
    def locked_out(self, obj) -> bool:
        return obj.recent_failures >= settings.AXES_FAILURE_LIMIT

    def save_model(self, request, obj, form, change):
        if not change:
            obj.set_unusable_password()
        super().save_model(request, obj, form, change)
        if not change:
            send_password_link(user=obj)
            self.message_user(request, f"{obj.email} has been emailed a link to choose a password.")

    @admin.action(description="Unlock (forget failed logins)", permissions=["change"])
    def unlock(self, request, queryset):
        for user in queryset:
            lockout.unlock(username=user.username)
        self.message_user(request, f"Unlocked {queryset.count()} account(s).")

    @admin.action(
        description="Reset the second factor (set up again at next login)", permissions=["change"]
    )
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            mfa.reset_second_factor(user=user)
        self.message_user(request, f"Reset the second factor of {queryset.count()} account(s).")

    @admin.action(description="Email a link to choose a password", permissions=["change"])
    def email_password_link(self, request, queryset):
        sent = 0
        for user in queryset:
            try:
                send_password_link(user=user)
            except InvitationError as error:
                self.message_user(request, f"{user}: {error}", messages.WARNING)
            else:
                sent += 1
        self.message_user(request, f"Emailed {sent} link(s) to choose a password.")


@admin.register(AccessAttempt)
class AccessAttemptAdmin(CadenceModelAdmin):
    """Failed logins (django-axes): who, from where, how many. Deleting unlocks."""

    list_display = ("username", "ip_address", "failures_since_start", "attempt_time")
    list_filter = ("attempt_time",)
    fields = ("username", "ip_address", "user_agent", "path_info", "failures_since_start")
    readonly_fields = fields
    actions = ["unlock"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Unlock (forget these failed logins)", permissions=["delete"])
    def unlock(self, request, queryset):
        count = 0
        for username in {attempt.username for attempt in queryset if attempt.username}:
            count += lockout.unlock(username=username)
        count += queryset.delete()[0]
        self.message_user(request, f"Unlocked: {count} record(s) of failed logins forgotten.")


@admin.register(Location)
class LocationAdmin(CadenceModelAdmin):
    list_display = ("name", "phone", "time_zone")

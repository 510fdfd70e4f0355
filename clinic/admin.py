from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    ReadOnlyPasswordHashWidget,
    SetUnusablePasswordMixin,
    UserChangeForm,
)

from clinic.models import Location, User

# Two fixes to Django's admin pages for users, which are not valid HTML as Django ships them.


class PasswordSummaryWidget(ReadOnlyPasswordHashWidget):
    """The password summary, without the `disabled` its read-only field puts on a <div>."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].pop("disabled", None)
        return context


class CadenceUserChangeForm(UserChangeForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["password"].widget = PasswordSummaryWidget()


class CadencePasswordChangeForm(AdminPasswordChangeForm):
    # Django's help text puts a <ul> inside the template's <p>; the same warning as phrasing
    # content, with the id and class that Django's script and style show and hide it by.
    usable_password_help_text = SetUnusablePasswordMixin.usable_password_help_text + (
        ' <strong id="id_unusable_warning" class="messagelist">'
        "If disabled, the current password for this user will be lost.</strong>"
    )


@admin.register(User)
class CadenceUserAdmin(UserAdmin):
    form = CadenceUserChangeForm
    change_password_form = CadencePasswordChangeForm
    list_display = ("username", "first_name", "last_name", "role", "is_active", "last_login")
    list_filter = ("role", "is_active")
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
                "fields": ("username", "role", "usable_password", "password1", "password2"),
            },
        ),
    )
    readonly_fields = ("last_login", "date_joined")


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ("name", "phone", "time_zone")

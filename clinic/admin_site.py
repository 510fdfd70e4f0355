from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from clinic import mfa
from clinic.models import User

# Models of libraries that must not appear in the admin: the second factor's devices hold the
# TOTP secrets and recovery codes (a clinic admin resets them with a user action instead).
HIDDEN_APPS = frozenset({"otp_totp", "otp_static"})


class CadenceAdminSite(admin.AdminSite):
    site_header = "Cadence administration"
    site_title = "Cadence admin"

    def has_permission(self, request):
        # Clinic admins only, whatever Django's is_staff flag says, and only once their
        # session has passed the second factor.
        user = request.user
        return (
            user.is_active
            and user.is_authenticated
            and user.role == User.Role.CLINIC_ADMIN
            and mfa.is_verified(request)
        )

    def login(self, request, extra_context=None):
        # The admin has no login of its own: Cadence's login and second factor, then back.
        if request.method == "GET" and self.has_permission(request):
            return super().login(request, extra_context)
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        return redirect_to_login(target, reverse("login"))

    def register(self, model_or_iterable, admin_class=None, **options):
        models = (
            [model_or_iterable] if isinstance(model_or_iterable, type) else list(model_or_iterable)
        )
        models = [model for model in models if model._meta.app_label not in HIDDEN_APPS]
        if models:
            super().register(models, admin_class, **options)

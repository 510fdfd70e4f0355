from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.db.models.constants import LOOKUP_SEP
from django.urls import reverse

from clinic import mfa
from clinic.models import User

# Models of libraries that must not appear in the admin: the second factor's devices hold the
# TOTP secrets and recovery codes (a clinic admin resets them with a user action instead).
HIDDEN_APPS = frozenset({"otp_totp", "otp_static"})


class NoQueryStringSearch:
    """A changelist filters only by its list_filter and never searches: admin filters and
    search words travel in the query string (and so into access logs and browser history),
    and patient names, dates of birth, emails and phones must not. The registry searches
    patients by POST."""

    def get_search_fields(self, request):
        return ()

    def lookup_allowed(self, lookup, value, request):
        filters = {item if isinstance(item, str) else item[0] for item in self.list_filter}
        filters.discard(None)
        return lookup.split(LOOKUP_SEP)[0] in filters and super().lookup_allowed(
            lookup, value, request
        )

    def changelist_view(self, request, extra_context=None):
        if SEARCH_VAR in request.GET:
            raise BadRequest("The admin does not search; the registry does.")
        return super().changelist_view(request, extra_context)


class CadenceModelAdmin(admin.ModelAdmin):
    """A changelist that stays quick on a network's million rows: one count (of the filtered
    rows, not a second of the whole table), short pages, and the model's ordering, which has
    an index (treatments 0013, patients 0004). Related rows shown in a list come through
    `list_select_related`, never a query per row."""

    show_full_result_count = False
    list_per_page = 50


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
            # Every model's admin, ours and Django's (groups), without query-string search.
            base = admin_class or CadenceModelAdmin
            admin_class = type(base.__name__, (NoQueryStringSearch, base), {})
            super().register(models, admin_class, **options)

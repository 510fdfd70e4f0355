from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR, ChangeList
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import BadRequest
from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.urls import reverse
from django.utils.functional import cached_property

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


class EstimatedCountPaginator(Paginator):
    """Counts the rows, except a whole big table on PostgreSQL: there the planner's estimate
    (pg_class.reltuples, kept by ANALYZE) stands in for a COUNT(*) that reads a million rows
    on every page of the changelist. Filtered lists are counted exactly."""

    ESTIMATE_FROM = 100_000

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if (
            connection.vendor != "postgresql"
            or not isinstance(queryset, QuerySet)
            or queryset.query.where
        ):
            return super().count
        # One round trip: the estimate, or the exact count of a table still small (the
        # scalar subquery runs only when its branch is taken).
        table = connection.ops.quote_name(queryset.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT CASE WHEN reltuples >= %s THEN reltuples::bigint "
                f"ELSE (SELECT count(*) FROM {table}) END "
                "FROM pg_class WHERE oid = %s::regclass",
                [self.ESTIMATE_FROM, table],
            )
            return int(cursor.fetchone()[0])


class LeanChangeList(ChangeList):
    """A changelist's rows without the phone numbers it does not show: loading a phone
    number parses it (a patient's and a location's on every row of the appointments)."""

    def get_queryset(self, request, exclude_parameters=None):
        queryset = super().get_queryset(request, exclude_parameters)
        return queryset.defer(*self.model_admin.unshown_phones())


class CadenceModelAdmin(admin.ModelAdmin):
    """A changelist that stays quick on a network's million rows: one count (of the filtered
    rows, not a second of the whole table; an estimate for a whole big table), short pages,
    and the model's ordering, which has an index (treatments 0013, patients 0004). Related
    rows shown in a list come through `list_select_related`, never a query per row, and
    without their phone numbers."""

    show_full_result_count = False
    list_per_page = 50
    paginator = EstimatedCountPaginator

    def get_changelist(self, request, **kwargs):
        return LeanChangeList

    def unshown_phones(self) -> list[str]:
        """The phone fields of the model and of its list's related rows that no column shows."""
        related = self.list_select_related
        names = related if isinstance(related, list | tuple) else ()
        paths = [""] + [f"{name}__" for name in names]
        phones = []
        for path in paths:
            model = self.model
            for name in path.split(LOOKUP_SEP)[:-1]:
                model = model._meta.get_field(name).related_model
            fields = {field.name for field in model._meta.concrete_fields}
            if "phone" in fields and f"{path}phone" not in self.list_display:
                phones.append(f"{path}phone")
        return phones


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

"""Who may open what: the role sets, the one decorator that checks them, and the permissions
each role's group carries. Objects are then fetched through querysets scoped to the user
(`Patient.objects.for_user(user)`), so an id that is not yours is a 404."""

from functools import wraps

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from clinic.models import User

Role = User.Role


class AuthenticatedHttpRequest(HttpRequest):
    """A request past LoginRequiredMiddleware: its user is a Cadence user (for type checks)."""

    user: User
    htmx: HtmxDetails


def role_required(roles):
    """Allow only users whose role is in `roles`.

    A patient who reaches a staff page gets a 404, as for any object that is not theirs: the
    portal never confirms that a staff page exists. Staff without the role get a 403.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            role = request.user.role
            if role in roles:
                return view(request, *args, **kwargs)
            if role == Role.PATIENT:
                raise Http404
            raise PermissionDenied

        return wrapped

    return decorator


staff_required = role_required(User.STAFF_ROLES)
clinician_required = role_required(User.CLINICAL_ROLES)
patient_required = role_required(User.PATIENT_ROLES)
recall_required = role_required(User.RECALL_ROLES)

# The permissions of each role's group, as (app_label, model, actions). The views check roles;
# these permissions serve the admin (clinic admins) and anything that asks `user.has_perm`.
# Nobody deletes patients, consents, users or locations: records are kept; people are
# discharged or deactivated instead.
TREATMENT_RECORDS = (
    "treatmentcourse",
    "treatmentsession",
    "injectionsite",
    "viallot",
    "vialuse",
    "adverseevent",
    "sessionamendment",
)
SCHEDULE_RECORDS = ("appointment", "appointmentevent", "calloutcome")
PAYER_RECORDS = ("priorauthorization", "authorizationdocument")
# Prior authorizations: the front desk and clinicians record them and attach their documents.
PAYER_WORK = [
    ("treatments", "priorauthorization", ("view", "add", "change")),
    ("treatments", "authorizationdocument", ("view", "add")),
]
SCHEDULE_WORK = [
    ("treatments", "appointment", ("view", "add", "change")),
    ("treatments", "appointmentevent", ("view", "add")),
    ("treatments", "calloutcome", ("view", "add")),
    ("treatments", "openinghours", ("view",)),
    ("treatments", "injectorday", ("view",)),
    ("treatments", "closure", ("view",)),
]
GROUP_PERMISSIONS = {
    Role.CLINICIAN: [
        ("patients", "patient", ("view", "add", "change")),
        ("patients", "contactconsent", ("view", "add")),
        # the medication list: clinicians only (front desk sees no medication)
        ("patients", "patientmedication", ("view", "add", "change")),
        ("patients", "medicationreport", ("view", "change")),
        ("clinic", "location", ("view",)),
        *[("treatments", model, ("view", "add", "change")) for model in TREATMENT_RECORDS],
        *SCHEDULE_WORK,
        *PAYER_WORK,
    ],
    Role.FRONT_DESK: [
        ("patients", "patient", ("view", "add", "change")),
        ("patients", "contactconsent", ("view", "add")),
        ("clinic", "location", ("view",)),
        *SCHEDULE_WORK,
        *PAYER_WORK,
    ],
    Role.PATIENT: [],
    Role.CLINIC_ADMIN: [
        ("clinic", "user", ("view", "add", "change")),
        ("clinic", "location", ("view", "add", "change")),
        ("patients", "patient", ("view", "add", "change")),
        ("patients", "contactconsent", ("view",)),
        ("auth", "group", ("view",)),
        *[
            ("treatments", model, ("view",))
            for model in TREATMENT_RECORDS + SCHEDULE_RECORDS + PAYER_RECORDS
        ],
        # Clinic hours and the injectors' rota are set up by the clinic admin.
        ("treatments", "openinghours", ("view", "add", "change", "delete")),
        ("treatments", "injectorday", ("view", "add", "change", "delete")),
        ("treatments", "closure", ("view", "add", "change", "delete")),  # and leave
        # Failed logins (django-axes): seen, and deleted to unlock.
        ("axes", "accessattempt", ("view", "delete")),
    ],
}


def sync_role_groups(apps) -> None:
    """Create each role's group and give it exactly the permissions above.

    Called from data migrations with the historical `apps`; a later migration that adds models
    extends GROUP_PERMISSIONS and calls this again.
    """
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        # Permissions are normally created after migrate; data migrations need them now.
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for role, grants in GROUP_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role.value)
        permissions = [
            permission_model.objects.get(
                content_type__app_label=app_label, codename=f"{action}_{model}"
            )
            for app_label, model, actions in grants
            if _exists_yet(apps, app_label, model)
            for action in actions
        ]
        group.permissions.set(permissions)


def _exists_yet(apps, app_label: str, model: str) -> bool:
    """An earlier migration runs before later apps' models exist; their own migration calls
    sync_role_groups again once they do."""
    try:
        apps.get_model(app_label, model)
    except LookupError:
        return False
    return True

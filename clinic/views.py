from django.contrib.auth import REDIRECT_FIELD_NAME, logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from clinic import lockout, mfa
from clinic.access import AuthenticatedHttpRequest, staff_required
from clinic.forms import EnrolmentForm, LoginForm, SecondFactorForm, safe_next_url
from clinic.middleware import second_factor_exempt
from clinic.models import User

SETUP_KEY_SESSION = "mfa_setup_key"
RECOVERY_CODES_SESSION = "mfa_recovery_codes"


def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Send each role to its own home page."""
    role = request.user.role
    if role == User.Role.PATIENT:
        return redirect("portal:home")
    if role == User.Role.CLINICIAN:
        # A clinician's day starts from their own list: today's calendar, filtered to them.
        return redirect(f"{reverse('treatments:calendar')}?clinician={request.user.pk}")
    if request.user.is_staff_member:
        return redirect("patients:list")
    raise PermissionDenied


@login_not_required
@never_cache
def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and the compose healthcheck: the app answers and reaches its database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


@require_POST
@never_cache
def keep_alive(request: HttpRequest) -> HttpResponse:
    """ "Stay logged in" on the idle warning (static/js/idle.js): any request refreshes the
    session (SESSION_SAVE_EVERY_REQUEST); this one does nothing else."""
    return HttpResponse(status=204)


class LoginView(auth_views.LoginView):
    """Django's login. A patient's login is complete here, so the account's failed attempts
    are forgotten; a staff login is complete only after the second factor (mfa_verify)."""

    authentication_form = LoginForm

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        if not mfa.needs_second_factor(user):
            lockout.forget_failures(username=user.username)
        return response


def _next_url(request: HttpRequest) -> str:
    """Where to go once the second factor is passed: the page asked for, if it is ours."""
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    return safe_next_url(request, target, reverse("home"))


def _locked_out(request: HttpRequest) -> HttpResponse:
    """Log the half-logged-in user out and show the lockout page (as django-axes does)."""
    logout(request)
    return render(request, "registration/locked_out.html", status=429)


@never_cache
@second_factor_exempt
@staff_required
def mfa_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The second step of a staff login: a code from the authenticator app or a recovery code.
    A wrong code counts towards the lockout like a wrong password."""
    user = request.user
    if mfa.is_verified(request):
        return redirect(_next_url(request))
    if not mfa.has_device(user):
        return redirect(f"{reverse('mfa_setup')}?{request.GET.urlencode()}")
    form = SecondFactorForm(request.POST or None)
    if request.method == "POST":
        if lockout.is_locked_out(request, username=user.username):
            return _locked_out(request)
        if form.is_valid():
            device, wait = mfa.verify_code(user=user, code=form.cleaned_data["code"])
            if device is not None:
                mfa.mark_verified(request, device)
                lockout.forget_failures(username=user.username)
                return redirect(_next_url(request))
            if wait:
                form.add_error("code", f"Too many wrong codes: wait {wait} s, then try again.")
                context = {"form": form, "next": _next_url(request)}
                return render(request, "registration/mfa_verify.html", context)
            lockout.record_failure(request, username=user.username)
            if lockout.is_locked_out(request, username=user.username):
                return _locked_out(request)
            form.add_error("code", "That code is not right, or was already used. Try again.")
    context = {"form": form, "next": _next_url(request)}
    return render(request, "registration/mfa_verify.html", context)


@never_cache
@second_factor_exempt
@staff_required
def mfa_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """First login of a staff account: scan a new secret into an authenticator app, prove it
    with a code, and get recovery codes. An account that has an authenticator is asked for
    its code instead (the clinic admin resets a lost one)."""
    user = request.user
    if mfa.has_device(user):
        return redirect(f"{reverse('mfa_verify')}?{request.GET.urlencode()}")
    hex_key = request.session.get(SETUP_KEY_SESSION)
    if not isinstance(hex_key, str):
        hex_key = request.session[SETUP_KEY_SESSION] = mfa.new_key()
    form = EnrolmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if mfa.code_matches_key(hex_key=hex_key, code=form.cleaned_data["code"]):
            device, codes = mfa.enrol_totp(user=user, hex_key=hex_key)
            mfa.mark_verified(request, device)
            lockout.forget_failures(username=user.username)
            del request.session[SETUP_KEY_SESSION]
            request.session[RECOVERY_CODES_SESSION] = codes
            return redirect(f"{reverse('mfa_recovery_codes')}?{request.GET.urlencode()}")
        form.add_error("code", "That code does not match. Check the app's clock and try again.")
    uri = mfa.provisioning_uri(user=user, hex_key=hex_key)
    context = {
        "form": form,
        "secret": mfa.base32_secret(hex_key),
        "qr_code": mfa.qr_code_data_uri(uri),
        "next": _next_url(request),
    }
    return render(request, "registration/mfa_setup.html", context)


@never_cache
@staff_required
def mfa_recovery_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The recovery codes, shown once, right after enrolment."""
    codes = request.session.pop(RECOVERY_CODES_SESSION, None)
    if not isinstance(codes, list):
        return redirect("home")
    context = {"codes": codes, "next": _next_url(request)}
    return render(request, "registration/mfa_recovery_codes.html", context)

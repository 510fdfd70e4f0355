"""The clinic admin's API clients: the list (with when each was last used), creating one (its
secret shown once, on the answer to the form, never stored nor put in a URL), revoking one."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, role_required
from clinic.models import User
from clinic.paging import page_of
from treatments.forms.api_clients import ApiClientForm
from treatments.models import ApiClient
from treatments.services.api_clients import create_api_client, revoke_api_client

admin_required = role_required({User.Role.CLINIC_ADMIN})


@admin_required
def api_client_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    clients = ApiClient.objects.select_related("location", "created_by").order_by(
        "revoked_at", "-created_at", "-pk"
    )
    page = page_of(request, clients)
    return render(
        request,
        "treatments/api_client_list.html",
        {"clients": page.object_list, "page_obj": page},
    )


@never_cache
@admin_required
def api_client_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ApiClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        client, token = create_api_client(
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            location=form.cleaned_data["location"],
            created_by=request.user,
        )
        # Shown once, in this answer: only its SHA-256 is kept.
        return render(
            request, "treatments/api_client_created.html", {"client": client, "token": token}
        )
    return render(request, "treatments/api_client_form.html", {"form": form})


@admin_required
@require_POST
def api_client_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_object_or_404(ApiClient, pk=pk)
    if revoke_api_client(client=client, revoked_by=request.user):
        messages.success(request, f"{client.name} is revoked: its token no longer works.")
    return redirect("treatments:api_client_list")

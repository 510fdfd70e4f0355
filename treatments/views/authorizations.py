"""Prior authorizations (issue 16): recorded and edited by the front desk and clinicians on the
patient's record, their documents uploaded and downloaded (never by a public URL), and the
worklist of those that need renewing."""

from django.conf import settings
from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.access import AuthenticatedHttpRequest, role_required, staff_required
from clinic.models import Location, User
from clinic.paging import page_of
from patients.models import Patient
from treatments.forms import (
    AuthorizationDocumentForm,
    DocumentRemovalForm,
    PriorAuthorizationForm,
)
from treatments.models import AuthorizationDocument, PriorAuthorization
from treatments.services.authorizations import (
    DocumentAlreadyRemoved,
    attach_document,
    record_authorization,
    remove_document,
    renewal_rows,
    to_renew,
    update_authorization,
)
from treatments.services.local_dates import local_dates

# Who records a payer's authorization: the front desk and clinicians (clinic admins see them
# in the admin, read-only, as other treatment records).
authorization_editors = role_required({User.Role.FRONT_DESK, User.Role.CLINICIAN})


@authorization_editors
def authorization_create(request: AuthenticatedHttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.for_user(request.user), pk=patient_pk)
    form = PriorAuthorizationForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        authorization = record_authorization(patient=patient, by=request.user, **form.cleaned_data)
        messages.success(request, f"Prior authorization {authorization.reference} recorded.")
        return redirect("treatments:authorization_detail", pk=authorization.pk)
    return render(request, "treatments/authorization_form.html", {"form": form, "patient": patient})


def _authorization(user: User, pk: int) -> PriorAuthorization:
    return get_object_or_404(
        PriorAuthorization.objects.for_user(user).select_related("patient"), pk=pk
    )


@authorization_editors
def authorization_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The authorization's terms (edited here) and its documents."""
    authorization = _authorization(request.user, pk)
    form = PriorAuthorizationForm(
        request.POST if request.method == "POST" else None, instance=authorization
    )
    if form.is_valid():
        update_authorization(authorization=authorization, **form.cleaned_data)
        messages.success(request, f"Prior authorization {authorization.reference} saved.")
        return redirect("patients:detail", pk=authorization.patient_id)
    return _detail_page(request, authorization, form, AuthorizationDocumentForm())


def _detail_page(request, authorization, form, upload_form, removal=None) -> HttpResponse:
    """The terms' form and the documents; `removal`: (document id, its form with errors)."""
    context = {
        "form": form,
        "patient": authorization.patient,
        "authorization": authorization,
        "documents": authorization.documents.select_related("uploaded_by", "removed_by"),
        "upload_form": upload_form,
        "removal": removal,
    }
    return render(request, "treatments/authorization_form.html", context)


@authorization_editors
@require_POST
def document_upload(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    authorization = _authorization(request.user, pk)
    form = AuthorizationDocumentForm(request.POST, request.FILES)
    if not form.is_valid():  # the authorization's page, with the upload's errors
        terms = PriorAuthorizationForm(instance=authorization)
        return _detail_page(request, authorization, terms, form)
    document = attach_document(
        authorization=authorization,
        upload=form.cleaned_data["file"],
        content_type=form.content_type,
        by=request.user,
    )
    messages.success(request, f"{document.original_name} attached.")
    return redirect("treatments:authorization_detail", pk=authorization.pk)


@authorization_editors
@require_POST
def document_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Remove a document attached by mistake, with a reason (its file is deleted; the row
    keeps who, when and why)."""
    document = get_object_or_404(
        AuthorizationDocument.objects.for_user(request.user).select_related(
            "authorization__patient"
        ),
        pk=pk,
    )
    authorization = document.authorization
    form = DocumentRemovalForm(request.POST)
    if not form.is_valid():
        terms = PriorAuthorizationForm(instance=authorization)
        page = _detail_page(
            request, authorization, terms, AuthorizationDocumentForm(), (document.pk, form)
        )
        page.status_code = 400
        return page
    try:
        remove_document(document=document, by=request.user, reason=form.cleaned_data["reason"])
    except DocumentAlreadyRemoved:
        messages.info(request, f"{document.original_name} was removed already.")
    else:
        messages.success(request, f"{document.original_name} removed.")
    return redirect("treatments:authorization_detail", pk=authorization.pk)


@staff_required
def document_download(request: AuthenticatedHttpRequest, pk: int) -> FileResponse:
    """The document, as an attachment, to staff who may see its patient (the patient loads
    with it, so the audit trail notes the look)."""
    document = get_object_or_404(
        AuthorizationDocument.objects.for_user(request.user)
        .present()
        .select_related("authorization__patient"),
        pk=pk,
    )
    try:
        handle = document.file.open("rb")
    except FileNotFoundError as error:
        raise Http404("The document's file is missing.") from error
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=document.original_name,
        content_type=document.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


@staff_required
def authorization_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The front desk's worklist: authorizations to renew, with the evidence a payer asks for;
    a page at a time, in a constant number of queries."""
    location = Location.objects.from_param(request.GET.get("location"))
    locations = list(Location.objects.order_by("name"))
    today = timezone.localdate()
    today_at = local_dates(locations)
    rows = to_renew(today=today, today_at=today_at).select_related("patient__location")
    if location is not None:
        rows = rows.filter(patient__location=location)
    page = page_of(request, rows)
    context = {
        "page_obj": page,
        "rows": renewal_rows(page.object_list, today_at=today_at),
        "location": location,
        "locations": locations,
        "today": today_at[location.pk] if location else today,
        "renew_days": settings.AUTHORIZATION_RENEW_DAYS,
    }
    return render(request, "treatments/authorization_list.html", context)

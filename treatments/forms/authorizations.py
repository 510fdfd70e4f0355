"""Prior authorizations and their documents (issue 16)."""

from django import forms
from django.conf import settings

from clinic.forms import PlausibleDatesMixin
from treatments.models import AuthorizationDocument, PriorAuthorization

# The first bytes of each file type we accept: what the file is, whatever its name or the
# browser's content type say (PDF 1.7, ISO 32000-1 section 7.5.2; PNG, RFC 2083 section 3.1;
# JPEG/JFIF, ITU T.81 annex B: SOI then a marker).
MAGIC_NUMBERS = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
)


class PriorAuthorizationForm(PlausibleDatesMixin, forms.ModelForm):
    # at least one of each (the database says so too: auth_sessions_ge_1, auth_units_ge_1)
    sessions_approved = forms.IntegerField(min_value=1, max_value=100)
    units_approved = forms.IntegerField(
        label="Units approved (U, across its sessions)", min_value=1, max_value=100_000
    )

    class Meta:
        model = PriorAuthorization
        fields = [
            "payer",
            "reference",
            "sessions_approved",
            "units_approved",
            "valid_from",
            "valid_to",
            "notes",
        ]
        widgets = {
            "valid_from": forms.DateInput(attrs={"type": "date"}),
            "valid_to": forms.DateInput(attrs={"type": "date"}),
            "notes": forms.Textarea(attrs={"rows": 2}),
        }

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("valid_from"), cleaned.get("valid_to")
        if start and end and end < start:
            self.add_error("valid_to", "The authorization cannot end before it starts.")
        return cleaned


class DocumentRemovalForm(forms.Form):
    reason = forms.CharField(
        label="Why remove it",
        max_length=200,
        strip=True,
        help_text="Kept with the record of the document, e.g. 'another patient's letter'.",
    )


class AuthorizationDocumentForm(forms.Form):
    file = forms.FileField(
        label="Document (PDF, PNG or JPEG)",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg"}),
    )

    content_type: str = ""

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.AUTHORIZATION_UPLOAD_MAX_MB * 1024 * 1024
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is too large: at most {settings.AUTHORIZATION_UPLOAD_MAX_MB} MB."
            )
        upload.seek(0)
        head = upload.read(16)
        upload.seek(0)
        kind = next((kind for magic, kind in MAGIC_NUMBERS if head.startswith(magic)), None)
        if kind is None:
            raise forms.ValidationError(
                "Only a PDF, PNG or JPEG file can be attached: this file is none of them."
            )
        self.content_type = AuthorizationDocument.CONTENT_TYPES[kind]
        return upload

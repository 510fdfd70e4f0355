"""Creating and revoking API clients (the FHIR API's bearer tokens)."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from clinic.models import Location, User
from treatments.models.api_clients import ApiClient, hash_token, new_token


@transaction.atomic
def create_api_client(
    *, name: str, scopes: Iterable[str], location: Location | None, created_by: User
) -> tuple[ApiClient, str]:
    """A new client and its secret. The secret is returned once, to be shown once: only its
    SHA-256 is kept."""
    token = new_token()
    client = ApiClient.objects.create(
        name=name,
        token_hash=hash_token(token),
        token_hint=token[:8],
        scopes=sorted(set(scopes)),
        location=location,
        created_by=created_by,
        created_at=timezone.now(),
    )
    return client, token


@transaction.atomic
def revoke_api_client(*, client: ApiClient, revoked_by: User) -> bool:
    """Revoke at once (a conditional UPDATE: revoking twice keeps the first time). True when
    this call revoked it."""
    now = timezone.now()
    changed = ApiClient.objects.filter(pk=client.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=revoked_by
    )
    client.refresh_from_db(fields=["revoked_at", "revoked_by"])
    return bool(changed)

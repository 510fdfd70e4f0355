"""A portal account, once linked to a patient, is never re-linked to another account nor
unlinked, whoever writes: the database refuses (both engines)."""

import pytest
from django.db import IntegrityError, connection, transaction

from clinic.models import User
from patients.models import Patient
from tests.conftest import make_patient


def refused(write):
    with pytest.raises(IntegrityError), transaction.atomic():
        write()


def test_a_linked_portal_account_is_never_relinked(patient_a, patient_b):
    rows = Patient.objects.filter(pk=patient_a.pk)
    assert patient_a.user_id is not None
    refused(lambda: rows.update(user=patient_b.user))  # the other patient's login
    stranger = User.objects.create(username="stranger@example.org", role=User.Role.PATIENT)
    refused(lambda: rows.update(user=stranger))
    refused(lambda: rows.update(user=None))
    with connection.cursor() as cursor:
        refused(
            lambda: cursor.execute(
                "UPDATE patients_patient SET user_id = %s WHERE id = %s",
                [stranger.pk, patient_a.pk],
            )
        )
    patient_a.first_name = "Still linked"
    patient_a.save()  # saving the row with the same account is fine
    assert Patient.objects.get(pk=patient_a.pk).user_id == patient_a.user_id


def test_a_patient_without_an_account_gets_one_by_the_invitation(patient_a):
    rows = Patient.objects.filter(pk=patient_a.pk)
    # a patient created before the guard, without an account, may be linked once
    unlinked = make_patient(99)
    account = User.objects.create(username="new@example.org", role=User.Role.PATIENT)
    Patient.objects.filter(pk=unlinked.pk).update(user=account)
    assert Patient.objects.get(pk=unlinked.pk).user == account
    assert rows.get().user_id is not None

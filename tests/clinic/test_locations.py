"""A location's slot length stays within 5-120 minutes, whichever way it is written: a length
of 0 once made the booking page's slot loop run until the web worker was killed."""

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from clinic.models import Location


def location_form(location, **changes):
    return {
        "name": location.name,
        "address": location.address,
        "phone": str(location.phone),
        "time_zone": location.time_zone,
        "slot_minutes": str(location.slot_minutes),
        **changes,
    }


@pytest.mark.parametrize("minutes", ["0", "4", "121", "-5", "30.5", "999999999"])
def test_the_admin_refuses_a_slot_length_out_of_range_with_a_form_error(
    client, clinic_admin, location, minutes
):
    client.force_login(clinic_admin)
    url = reverse("admin:clinic_location_change", args=[location.pk])

    response = client.post(url, location_form(location, slot_minutes=minutes))

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["slot_minutes"]
    location.refresh_from_db()
    assert location.slot_minutes == 30


@pytest.mark.parametrize("minutes", ["5", "120"])
def test_the_admin_takes_the_shortest_and_longest_slot(client, clinic_admin, location, minutes):
    client.force_login(clinic_admin)
    url = reverse("admin:clinic_location_change", args=[location.pk])

    response = client.post(url, location_form(location, slot_minutes=minutes))

    assert response.status_code == 302
    location.refresh_from_db()
    assert location.slot_minutes == int(minutes)


@pytest.mark.parametrize("minutes", [0, 4, 121])
def test_the_database_refuses_a_slot_length_out_of_range_on_every_write_path(location, minutes):
    table = Location._meta.db_table
    writes = [
        lambda: Location.objects.filter(pk=location.pk).update(slot_minutes=minutes),
        lambda: Location.objects.bulk_create(
            [
                Location(
                    name="Other",
                    address="1 Road",
                    phone="+12125550143",
                    time_zone="UTC",
                    slot_minutes=minutes,
                )
            ]
        ),
        lambda: connection.cursor().execute(
            f"UPDATE {table} SET slot_minutes = %s WHERE id = %s", [minutes, location.pk]
        ),
    ]
    for write in writes:
        with pytest.raises(IntegrityError), transaction.atomic():
            write()

    location.refresh_from_db()
    assert location.slot_minutes == 30
    assert Location.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_a_location_out_of_range_the_default_length(location):
    call_command("migrate", "clinic", "0005_lockout_permissions", verbosity=0)
    Location.objects.filter(pk=location.pk).update(slot_minutes=0)

    call_command("migrate", verbosity=0)

    location.refresh_from_db()
    assert location.slot_minutes == 30

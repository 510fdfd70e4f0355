import zoneinfo
from typing import ClassVar

import phonenumbers
from django.contrib.auth.models import AbstractUser, Group, UserManager
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from phonenumber_field.modelfields import PhoneNumberField

from clinic.params import id_param
from clinic.sms import gsm_septets, is_gsm7, to_gsm

# A clinic's name in a text message, in GSM-7 septets: with it every text fits one segment
# (tests/treatments/test_sms_length.py).
SMS_NAME_SEPTETS = 20
SMS_PHONE_CHARACTERS = 20


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError("Choose an IANA time zone such as Europe/London.", code="time_zone")


def validate_sms_name(value: str) -> None:
    """GSM-7 only (one other character would make every text cost 2-3 times as much) and at
    most SMS_NAME_SEPTETS septets (`^{}\\[~]|€` count two)."""
    if not is_gsm7(value):
        wrong = "".join(sorted({character for character in value if not is_gsm7(character)}))
        raise ValidationError(
            f"Use letters a text message can carry; not: {wrong}", code="sms_alphabet"
        )
    if gsm_septets(value) > SMS_NAME_SEPTETS:
        raise ValidationError(
            f"At most {SMS_NAME_SEPTETS} characters (^ {{ }} \\ [ ~ ] | and € count two).",
            code="sms_length",
        )


class CadenceUserManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", User.Role.CLINIC_ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)

    def clinician_from_param(self, value: object) -> "User | None":
        """The clinician a form or query string names by id; None for anything else."""
        pk = id_param(value)
        return None if pk is None else User.objects.filter(pk=pk, role=User.Role.CLINICIAN).first()


class User(AbstractUser):
    """A person who logs in. The role decides the home page and the pages allowed; the group of
    the same name carries the model permissions (used by the admin)."""

    class Role(models.TextChoices):
        CLINICIAN = "clinician", "Clinician"
        FRONT_DESK = "front_desk", "Front desk"
        PATIENT = "patient", "Patient"
        CLINIC_ADMIN = "clinic_admin", "Clinic admin"

    # The role sets the views check (clinic/access.py) and the querysets scope by.
    STAFF_ROLES = frozenset({Role.CLINICIAN, Role.FRONT_DESK, Role.CLINIC_ADMIN})
    CLINICAL_ROLES = frozenset({Role.CLINICIAN})
    PATIENT_ROLES = frozenset({Role.PATIENT})
    RECALL_ROLES = frozenset({Role.CLINICIAN, Role.CLINIC_ADMIN})

    role = models.CharField(max_length=20, choices=Role.choices)
    # A patient's private calendar feed: a secret in the feed's URL, revocable and regenerable.
    calendar_token = models.CharField(
        max_length=43, null=True, blank=True, unique=True, editable=False
    )

    objects: ClassVar[CadenceUserManager] = CadenceUserManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["clinician", "front_desk", "patient", "clinic_admin"]),
                name="user_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    def save(self, *args, **kwargs):
        super().save(*args, **kwargs)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "role" in update_fields:
            # The role's group is the only group: the role decides the permissions.
            self.groups.set(Group.objects.filter(name=self.role))

    @property
    def is_patient(self) -> bool:
        return self.role == self.Role.PATIENT

    @property
    def is_clinician(self) -> bool:
        return self.role == self.Role.CLINICIAN

    @property
    def is_clinic_admin(self) -> bool:
        return self.role == self.Role.CLINIC_ADMIN

    @property
    def is_staff_member(self) -> bool:
        """Clinic staff of any kind (not to be confused with Django's is_staff admin flag)."""
        return self.role in self.STAFF_ROLES


SLOT_MINUTES = (5, 120)  # the shortest and longest appointment slot a location may set


class LocationQuerySet(models.QuerySet):
    def from_param(self, value: object) -> "Location | None":
        """The location a form or query string names by id; None for anything else."""
        pk = id_param(value)
        return None if pk is None else self.filter(pk=pk).first()


class Location(models.Model):
    """A place where injections happen. Appointment times are shown in its time zone."""

    name = models.CharField(max_length=120, unique=True)
    address = models.TextField()
    phone = PhoneNumberField()
    time_zone = models.CharField(
        max_length=64, validators=[validate_time_zone], help_text="IANA name, e.g. Europe/London."
    )
    slot_minutes = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(SLOT_MINUTES[0]), MaxValueValidator(SLOT_MINUTES[1])],
        help_text=f"Length of an appointment slot: {SLOT_MINUTES[0]} to {SLOT_MINUTES[1]} minutes.",
    )

    sms_name = models.CharField(
        "name in text messages",
        max_length=SMS_NAME_SEPTETS,
        blank=True,
        db_default="",  # rows inserted by SQL (seed_scale) get the blank too
        validators=[validate_sms_name],
        help_text=(
            f"At most {SMS_NAME_SEPTETS} characters, so that every text fits one message. "
            "Blank: the name, shortened."
        ),
    )

    objects = LocationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            # A slot of 0 minutes made the booking page's slot loop run forever.
            models.CheckConstraint(
                condition=models.Q(slot_minutes__range=SLOT_MINUTES),
                name="location_slot_minutes_range",
            ),
            # SQLite keeps no varchar length; GSM-7 is the validator's (and sms_label's) part
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("sms_name"), SMS_NAME_SEPTETS),
                name="location_sms_name_length",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        """The location's time zone: its dates and appointment times are read in it."""
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def sms_label(self) -> str:
        """The clinic's name in a text message: `sms_name`, else the name in GSM-7 cut to
        SMS_NAME_SEPTETS septets (at a word's end when there is one). Made safe here too, so
        that a row written around the validation still gives a one-segment text."""
        full = to_gsm(self.sms_name or self.name)
        label = full
        while gsm_septets(label) > SMS_NAME_SEPTETS:
            label = label[:-1]
        if label != full and full[len(label)] != " " and " " in label:
            label = label.rsplit(" ", 1)[0]  # not half a word
        return label.rstrip(" ,-:;.&/") or label

    @property
    def sms_phone(self) -> str:
        """The phone number in a text message: as people write it (+44 20 7946 0958), or in
        E.164 (at most 16 characters) should that be longer than SMS_PHONE_CHARACTERS."""
        shown = str(self.phone)
        return shown if len(shown) <= SMS_PHONE_CHARACTERS else self.phone.as_e164

    @property
    def region(self) -> str | None:
        """The ISO country code of the location's phone number (US, GB, ...): local phone
        numbers typed for its patients are read as numbers of this country."""
        return phonenumbers.region_code_for_number(self.phone) if self.phone else None

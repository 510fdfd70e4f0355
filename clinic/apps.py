from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ClinicConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "clinic"


class CadenceAdminConfig(admin_apps.AdminConfig):
    """Django's admin, on a site that only clinic admins may enter."""

    default = False
    default_site = "clinic.admin_site.CadenceAdminSite"

from django.contrib import admin

from clinic.models import User


class CadenceAdminSite(admin.AdminSite):
    site_header = "Cadence administration"
    site_title = "Cadence admin"

    def has_permission(self, request):
        # Clinic admins only, whatever Django's is_staff flag says.
        user = request.user
        return user.is_active and user.is_authenticated and user.role == User.Role.CLINIC_ADMIN

from django.contrib import admin
from django.urls import include, path

from clinic import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("patients/", include("patients.urls")),
    path("portal/", include("patients.urls_portal")),
    path("treatments/", include("treatments.urls")),
    path("r/", include("treatments.urls_links")),
    path("admin/", admin.site.urls),
]

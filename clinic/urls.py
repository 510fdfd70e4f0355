from django.contrib import admin
from django.urls import include, path

from clinic import views
from clinic.invitations import WelcomeView
from patients.views import portal
from treatments.views import links

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/keep-alive/", views.keep_alive, name="keep_alive"),
    path("accounts/two-factor/", views.mfa_verify, name="mfa_verify"),
    path("accounts/two-factor/setup/", views.mfa_setup, name="mfa_setup"),
    path(
        "accounts/two-factor/recovery-codes/",
        views.mfa_recovery_codes,
        name="mfa_recovery_codes",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    path("welcome/<uidb64>/<token>/", WelcomeView.as_view(), name="portal_welcome"),
    path("patients/", include("patients.urls")),
    path("portal/", include("patients.urls_portal")),
    path("treatments/", include("treatments.urls")),
    path("r/", include("treatments.urls_links")),
    # a text message's short link (no trailing slash: it costs a character in every text)
    path("s/<str:code>", links.short_link, name="short_link"),
    path("webhooks/", include("treatments.urls_webhooks")),
    path("audit/", include("audit.urls")),
    # bulk export first: the FHIR API's own `<type>` routes would take `$export` for a type
    path("fhir/R4/", include("treatments.urls_export")),
    path("fhir/R4/", include("treatments.fhir.urls")),
    path("feed/<str:token>.ics", portal.calendar_feed, name="calendar_feed"),
    path("admin/", admin.site.urls),
]

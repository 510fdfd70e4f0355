from django.urls import path

from patients.views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.portal_home, name="home"),
    path("visits/<int:pk>/confirm/", portal.portal_confirm, name="confirm"),
    path("visits/<int:pk>/cancel/", portal.portal_cancel, name="cancel"),
    path("visits/<int:pk>/change/", portal.portal_change, name="change"),
    path("visits/<int:pk>/calendar.ics", portal.portal_ics, name="ics"),
    path("calendar-feed/", portal.portal_feed, name="feed"),
    path("treatment/", portal.portal_treatment, name="treatment"),
    path("contact/", portal.portal_contact, name="contact"),
]

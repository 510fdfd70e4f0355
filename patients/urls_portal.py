from django.urls import path

from patients.views import portal

app_name = "portal"
urlpatterns = [
    path("", portal.portal_home, name="home"),
]

"""The signed links in messages (public: the token is the key). Mounted at /r/ to keep SMS
short."""

from django.urls import path

from treatments.views import links

app_name = "links"
urlpatterns = [
    path("confirm/<str:token>/", links.link_confirm, name="confirm"),
    path("cancel/<str:token>/", links.link_cancel, name="cancel"),
    path("stop/<str:token>/", links.link_stop, name="stop"),
    path("offer/<str:token>/", links.link_offer, name="offer"),
    path("checkin/<str:token>/", links.link_checkin, name="checkin"),
]

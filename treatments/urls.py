from django.urls import path

from treatments import views

app_name = "treatments"
urlpatterns = [
    path("patients/<int:patient_pk>/sessions/new/", views.session_create, name="session_create"),
    path("patients/<int:patient_pk>/chart/", views.chart, name="chart"),
    path("sessions/<int:pk>/", views.session_detail, name="session_detail"),
    path("sessions/<int:pk>/edit/", views.session_update, name="session_update"),
    path("sessions/<int:pk>/amend/", views.session_amend, name="session_amend"),
    path(
        "sessions/<int:pk>/adverse-events/new/",
        views.adverse_event_create,
        name="adverse_event_create",
    ),
    path("lots/", views.lot_recall, name="lot_recall"),
]

from django.urls import path

from patients.views import diary, medications, portal, portal_record, portal_waitlist, progress

app_name = "portal"
urlpatterns = [
    path("", portal.portal_home, name="home"),
    path("visits/<int:pk>/confirm/", portal.portal_confirm, name="confirm"),
    path("visits/<int:pk>/cancel/", portal.portal_cancel, name="cancel"),
    path("visits/<int:pk>/change/", portal.portal_change, name="change"),
    path("book/", portal.portal_book, name="book"),
    path("visits/<int:pk>/move/", portal.portal_move, name="move"),
    path("visits/<int:pk>/calendar.ics", portal.portal_ics, name="ics"),
    path("calendar-feed/", portal.portal_feed, name="feed"),
    path("treatment/", portal.portal_treatment, name="treatment"),
    path("treatment/<int:pk>/checkin/", portal.portal_checkin, name="checkin"),
    path("contact/", portal.portal_contact, name="contact"),
    path("earlier-slot/", portal_waitlist.portal_waitlist, name="waitlist"),
    path("medicines/", medications.portal_medications, name="medications"),
    path("progress/", progress.portal_progress, name="progress"),
    path("record/", portal_record.portal_record, name="record"),
    path("record/fhir.json", portal_record.portal_record_fhir, name="record_fhir"),
    path("record/summary.pdf", portal_record.portal_record_pdf, name="record_pdf"),
]

# The headache diary and questionnaires (patients/views/diary.py)
urlpatterns += [
    path("diary/", diary.diary_month, name="diary"),
    path("diary/<str:day>/", diary.diary_day, name="diary_day"),
    path("questionnaires/", diary.questionnaire_list, name="questionnaires"),
    path("questionnaires/midas/", diary.midas, name="midas"),
    path("questionnaires/hit6/", diary.hit6, name="hit6"),
]

"""The post-injection check-in's page, the same by the message's signed link and in the portal:
GET shows the four questions; POST records them once and shows the result at once (a danger
answer: the emergency message with the clinic's phone). A repeated POST records nothing."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.models import User
from treatments.forms import CheckInForm
from treatments.models import CheckIn, TreatmentSession
from treatments.services.checkins import answer_checkin
from treatments.services.side_effects import emergency_number

DANGER_ANSWERS = ("swallowing", "breathing", "speaking")
PROMPT_ANSWERS = ("eyelids",)


def checkin_response(
    request: HttpRequest, session: TreatmentSession, *, user: User | None, via: str, page: str
) -> HttpResponse:
    answered = CheckIn.objects.filter(session=session).first()
    form = CheckInForm(request.POST if request.method == "POST" and not answered else None)
    state = "answered" if answered else "open"
    if answered is None and request.method == "POST" and form.is_valid():
        answered, _, created = answer_checkin(
            session=session, answers=form.answers(), user=user, via=via
        )
        state = "done" if created else "answered"
    context = {
        "session": session,
        "form": form,
        "state": state,
        # shown again on a repeat: the advice stands whoever sent the answers first
        "danger": answered is not None and any(getattr(answered, a) for a in DANGER_ANSWERS),
        "prompt": answered is not None and any(getattr(answered, a) for a in PROMPT_ANSWERS),
        "clinic": session.location,
        "emergency_number": emergency_number(session.location),
    }
    return render(request, page, context)

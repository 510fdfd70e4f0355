from django.urls import path

from clinic.urls import urlpatterns as cadence_urlpatterns


def explode(request):
    raise RuntimeError("Alice Morgan MRN CAD-0001 exploded")


urlpatterns = [*cadence_urlpatterns, path("explode/", explode)]


def test_a_server_error_shows_a_plain_page_that_leaks_nothing(client, front_desk, settings):
    settings.ROOT_URLCONF = __name__
    client.raise_request_exception = False
    client.force_login(front_desk)
    response = client.get("/explode/")
    html = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in html
    assert "Alice" not in html
    assert "CAD-0001" not in html
    assert "Traceback" not in html


def test_a_missing_page_is_a_friendly_404(client, front_desk):
    client.force_login(front_desk)
    response = client.get("/patients/999999/")
    assert response.status_code == 404
    assert "Page not found" in response.content.decode()


def test_a_forbidden_page_says_so(client, front_desk, patient_a):
    client.force_login(front_desk)
    response = client.get(f"/patients/{patient_a.pk}/intake/")
    assert response.status_code == 403
    assert "does not have access" in response.content.decode()

"""The portal's calendar-feed card (issue 14, part 6): the private link with a copy button
(static/js/copy.js, no CDN, no inline script) and a "Subscribe" link with the webcal scheme."""

import re

from django.urls import reverse

from clinic.models import User


def feed_card(client, patient_a) -> tuple[str, str]:
    client.force_login(patient_a.user)
    client.post(reverse("portal:feed"), {"action": "new"})
    token = User.objects.get(pk=patient_a.user.pk).calendar_token
    html = client.get(reverse("portal:home")).content.decode()
    return html.split('id="feed"')[1].split("</section>")[0], token


def test_the_feed_card_has_a_subscribe_link_with_the_same_url_in_the_webcal_scheme(
    client, patient_a
):
    card, token = feed_card(client, patient_a)

    path = reverse("calendar_feed", args=[token])
    assert f'value="http://testserver{path}"' in card
    [webcal] = re.findall(r'href="(webcal://[^"]*)"', card)
    assert webcal == f"webcal://testserver{path}"
    assert "Subscribe" in card


def test_the_feed_card_has_a_copy_button_for_the_link_and_a_live_status(client, patient_a):
    card, _ = feed_card(client, patient_a)

    assert re.search(r'<input[^>]*id="feed-url"[^>]*readonly', card)
    button = re.search(r"<button[^>]*data-copy=\"feed-url\"[^>]*>([^<]*)</button>", card)
    assert button is not None
    assert button.group(1) == "Copy the link"
    assert 'type="button"' in button.group(0)  # never submits the stop/new form
    assert re.search(r'id="feed-copied" role="status" aria-live="polite"', card)
    assert '<script src="/static/js/copy.js" defer></script>' in card


def test_without_a_link_there_is_nothing_to_copy_or_subscribe_to(client, patient_a):
    client.force_login(patient_a.user)
    html = client.get(reverse("portal:home")).content.decode()
    card = html.split('id="feed"')[1].split("</section>")[0]
    assert "webcal://" not in card
    assert "data-copy" not in card

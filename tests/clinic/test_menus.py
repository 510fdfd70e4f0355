"""The filter menus' `{% options %}` tag: the markup the templates' loops wrote, escaped."""

from django.template import engines

from tests.conftest import make_user

MENU = engines["django"].from_string("{% load menus %}{% options people chosen %}")


def test_each_object_is_an_option_with_its_id_and_only_the_chosen_one_is_selected(db):
    # Given two clinicians, one of them with markup in her name
    ann = make_user("ann", "clinician", first_name="Ann", last_name="<b>Lee</b>")
    bo = make_user("bo", "clinician", first_name="", last_name="")

    # When the menu is rendered with Bo chosen, then with nobody chosen
    chosen = MENU.render({"people": [ann, bo], "chosen": bo})
    none = MENU.render({"people": [ann, bo], "chosen": None})

    # Then each is an option (Bo by username), her name escaped, Bo's selected
    assert chosen == (
        f'<option value="{ann.pk}">Ann &lt;b&gt;Lee&lt;/b&gt;</option>'
        f'<option value="{bo.pk}" selected>bo</option>'
    )
    assert "selected" not in none
    assert MENU.render({"people": [], "chosen": None}) == ""

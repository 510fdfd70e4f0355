"""The post-injection check-in's four questions (docs/clinical-rules.md), in the patient's
words: the same form by the message's link and in the portal."""

from django import forms

NECK = [("neck_pain", "Painful"), ("neck_weakness", "Weak")]
TROUBLE = [
    ("swallowing", "Trouble swallowing"),
    ("breathing", "Trouble breathing"),
    ("speaking", "Trouble speaking, or slurred speech"),
]


class CheckInForm(forms.Form):
    eyelids = forms.TypedChoiceField(
        label="1. Have your eyelids drooped since your visit?",
        choices=[("no", "No"), ("yes", "Yes")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
    )
    neck = forms.MultipleChoiceField(
        label="2. Is your neck weak or painful?",
        help_text="Tick any that apply, or none.",
        choices=NECK,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    trouble = forms.MultipleChoiceField(
        label="3. Do you have trouble swallowing, breathing or speaking?",
        help_text="Tick any that apply, or none.",
        choices=TROUBLE,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    other = forms.CharField(
        label="4. Anything else you have noticed?",
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def answers(self) -> dict:
        """The answers as `answer_checkin` takes them: one yes or no per sign, and the text."""
        data = self.cleaned_data
        ticked = set(data["neck"]) | set(data["trouble"])
        names = [name for name, _ in NECK + TROUBLE]
        return {"eyelids": data["eyelids"], **{n: n in ticked for n in names}} | {
            "other": data["other"].strip()
        }

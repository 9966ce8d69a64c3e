"""The small forms behind the dashboard's buttons: decide a draft, reply by hand."""

from __future__ import annotations

from django import forms

APPROVE, SAVE, REJECT = "approve", "save", "reject"


def _text(value: str) -> str:
    """Browsers send textarea lines with CRLF; store and compare them as the engine wrote them."""
    return value.replace("\r\n", "\n").replace("\r", "\n")


class DecisionForm(forms.Form):
    """Approve (with the text as shown or edited), save the edited text only, or reject."""

    decision = forms.ChoiceField(choices=[(APPROVE, "Approve"), (SAVE, "Save text"), (REJECT, "Reject")])
    text = forms.CharField(required=False, strip=True)
    seen_through = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def clean_text(self) -> str:
        """The reply with normalised line endings."""
        return _text(self.cleaned_data["text"])


class ReplyForm(forms.Form):
    """The owner's own words to the contact."""

    text = forms.CharField(
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Write your reply…"}),
        label="Reply by hand",
        help_text="Sent through this conversation's channel; the assistant stays quiet until you hand it back.",
    )

    def clean_text(self) -> str:
        """The reply with normalised line endings."""
        return _text(self.cleaned_data["text"])

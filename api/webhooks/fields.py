"""The API's webhook fields of a submission (the pages have none): validated before anything else
of the submission is, so a refused URL creates no job."""

from __future__ import annotations

from django import forms

from api.webhooks import guard
from api.webhooks.events import DEFAULT_EVENTS, EVENTS


class WebhookFields(forms.Form):
    webhook_url = forms.URLField(required=False, max_length=2000, assume_scheme="https",
                                 help_text="Where the job's events are POSTed (https, a public address).")
    webhook_events = forms.CharField(required=False, help_text="Which events: " + ", ".join(EVENTS) +
                                     f" (several fields, or comma-separated; default {', '.join(DEFAULT_EVENTS)}).")

    def __init__(self, data, *args, **kwargs):
        events = data.getlist("webhook_events") if hasattr(data, "getlist") else data.get("webhook_events", [])
        if isinstance(events, str):
            events = [events]
        super().__init__({"webhook_url": data.get("webhook_url", ""), "webhook_events": ",".join(events)},
                         *args, **kwargs)

    def clean_webhook_url(self) -> str:
        url = self.cleaned_data["webhook_url"]
        if url:
            try:
                guard.check(url)
            except guard.Refused as exc:
                raise forms.ValidationError(str(exc), code="webhook_url_refused") from None
        return url

    def clean_webhook_events(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["webhook_events"].split(",") if name.strip()]
        unknown = [name for name in names if name not in EVENTS]
        if unknown:
            raise forms.ValidationError(f"Unknown webhook events: {', '.join(unknown)}. Choose from "
                                        f"{', '.join(EVENTS)}.", code="invalid_choice")
        return list(dict.fromkeys(names)) or list(DEFAULT_EVENTS)

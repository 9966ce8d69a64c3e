"""A kept receipt remembers the normalized `window_closed` flag its provider's parser set.

Receipts kept before this migration carried only the provider's error code; the ones whose code
meant the closed window (Meta 131047, Twilio 63016, as the parsers in channels_app read them
when they were stored) get the flag, so the owner still hears "window closed" for them. Kept
receipts expire within an hour, so this only bridges the deploy.
"""

from django.db import migrations, models

#: The codes as they stood when the rows were stored: a frozen part of this migration's history.
_CLOSED_WINDOW_AT_THE_TIME = {"whatsapp": "131047", "twilio": "63016"}


def flag_closed_windows(apps, schema_editor):
    EarlyStatus = apps.get_model("conversations", "EarlyStatus")
    for provider, code in _CLOSED_WINDOW_AT_THE_TIME.items():
        EarlyStatus.objects.filter(status="failed", error_code=code, account__provider=provider).update(
            window_closed=True
        )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0011_calls")]

    operations = [
        migrations.AddField(
            model_name="earlystatus",
            name="window_closed",
            field=models.BooleanField(default=False),
        ),
        migrations.RunPython(flag_closed_windows, migrations.RunPython.noop),
    ]

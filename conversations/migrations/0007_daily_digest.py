"""The daily digest and the allowed origins (issue 14); `sent_at` filled in for messages already sent."""

import django.core.validators
import django.utils.timezone
from django.db import migrations, models
from django.db.models import F
from django.db.models.functions import Coalesce

import conversations.models

#: Outbound statuses that mean the provider took the message: each should say when (`sent_at`).
SENT_STATUSES = ("sent", "delivered", "read")


def backfill_sent_at(apps, schema_editor):
    """Outbound messages recorded sent before `sent_at` was set on acceptance: when accepted, else last changed."""
    Message = apps.get_model("conversations", "Message")
    Message.objects.filter(direction="out", status__in=SENT_STATUSES, sent_at__isnull=True).update(
        sent_at=Coalesce(F("accepted_at"), F("updated_at"))
    )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0006_owner_phone")]

    operations = [
        migrations.AddField(
            model_name="ownersettings",
            name="digest_hour",
            field=models.PositiveSmallIntegerField(
                blank=True,
                default=8,
                help_text="The hour (0-23, in your time zone) of your daily digest: what was answered, what "
                "waits, what was escalated. Empty: no digest. Nothing is sent on a day when nothing happened.",
                null=True,
                validators=[django.core.validators.MaxValueValidator(23)],
            ),
        ),
        migrations.AddField(
            model_name="ownersettings",
            name="time_zone",
            field=models.CharField(
                default=conversations.models.default_time_zone,
                help_text="Your time zone, an IANA name such as Europe/Lisbon or America/Sao_Paulo.",
                max_length=64,
                validators=[conversations.models.validate_time_zone],
            ),
        ),
        migrations.AddField(
            model_name="ownersettings",
            name="last_digest_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="ownersettings",
            name="digest_retry_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        # Nothing to undo going back: a filled-in time is as true as the empty one was.
        migrations.RunPython(backfill_sent_at, migrations.RunPython.noop, elidable=True),
    ]

"""Approvals from the owner's phone (issue 14): the owner's commands, the notes to their number,
and the template that reaches it once its 24-hour window closed."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_printed_and_metrics")]

    operations = [
        migrations.AddField(
            model_name="ownersettings",
            name="notify_template",
            field=models.CharField(
                blank=True,
                help_text="Optional: the approved WhatsApp template that carries a note to your own number once "
                "its 24-hour window closed (a Meta template name whose body has one variable, or a Twilio Content "
                "SID starting with HX). Without one, such notes wait until you next write.",
                max_length=512,
            ),
        ),
        migrations.AddField(
            model_name="ownersettings",
            name="notify_template_language",
            field=models.CharField(
                blank=True,
                default="en_US",
                help_text="Meta only: the template's language code.",
                max_length=16,
            ),
        ),
        migrations.CreateModel(
            name="OwnerCommand",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("provider_message_id", models.CharField(max_length=200)),
                ("kind", models.CharField(default="text", max_length=16)),
                ("text", models.TextField(blank=True)),
                ("action", models.CharField(blank=True, max_length=16)),
                (
                    "outcome",
                    models.CharField(
                        choices=[("pending", "Not yet handled"), ("done", "Done"), ("refused", "Refused")],
                        default="pending",
                        max_length=10,
                    ),
                ),
                ("reply", models.TextField(blank=True)),
                ("stale_through", models.BigIntegerField(blank=True, null=True)),
                ("received_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("handled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="conversations.channelaccount",
                    ),
                ),
                (
                    "draft",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.draft",
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [
                    models.Index(fields=["owner", "account", "-received_at"], name="owner_command_recent")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("account", "provider_message_id"), name="unique_owner_command"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="OwnerNotice",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[("notice", "Notification"), ("reply", "Answer to a command")],
                        default="notice",
                        max_length=8,
                    ),
                ),
                ("text", models.TextField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("held", "Held until you next write (24-hour window closed)"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=8,
                    ),
                ),
                ("via_template", models.BooleanField(default=False)),
                ("provider_message_id", models.CharField(blank=True, max_length=200)),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("sent_at", models.DateTimeField(blank=True, null=True)),
                (
                    "account",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.channelaccount",
                    ),
                ),
                (
                    "conversation",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.conversation",
                    ),
                ),
                (
                    "draft",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.draft",
                    ),
                ),
                (
                    "owner",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-id"],
                "indexes": [models.Index(fields=["owner", "status"], name="owner_notice_status")],
            },
        ),
    ]

"""Follow-ups and promises (issue 15)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_contact_events"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="draft",
            name="kind",
            field=models.CharField(
                choices=[
                    ("text", "Free-form text"),
                    ("template", "Re-engagement template (the 24-hour window has closed)"),
                    ("follow_up", "Follow-up (scheduled by you, the assistant or a promise)"),
                ],
                default="text",
                max_length=10,
            ),
        ),
        migrations.CreateModel(
            name="Promise",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("what", models.CharField(max_length=300)),
                ("due_at", models.DateTimeField()),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("open", "Open"),
                            ("kept", "Kept"),
                            ("followed_up", "Followed up"),
                            ("dismissed", "Dismissed"),
                        ],
                        default="open",
                        max_length=12,
                    ),
                ),
                (
                    "words",
                    models.CharField(
                        blank=True, help_text="The company's words that set the time.", max_length=300
                    ),
                ),
                ("source", models.CharField(blank=True, help_text="The engine that read it.", max_length=40)),
                ("confidence", models.FloatField(default=0.0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("settled_at", models.DateTimeField(blank=True, null=True)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="promises",
                        to="conversations.conversation",
                    ),
                ),
                (
                    "message",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="conversations.message",
                    ),
                ),
            ],
            options={
                "ordering": ["due_at", "id"],
            },
        ),
        migrations.CreateModel(
            name="FollowUp",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("due_at", models.DateTimeField()),
                (
                    "text",
                    models.TextField(
                        blank=True, help_text="Empty: the assistant's standard follow-up is sent."
                    ),
                ),
                (
                    "unless_reply",
                    models.BooleanField(
                        default=True, help_text="Skip it when the company writes before it is due."
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("scheduled", "Scheduled"),
                            ("sent", "Sent (queued for delivery)"),
                            ("held", "Held for your approval"),
                            ("skipped", "Skipped"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="scheduled",
                        max_length=10,
                    ),
                ),
                (
                    "source",
                    models.CharField(
                        choices=[
                            ("owner", "You wrote it"),
                            ("promise", "A promise the company did not keep"),
                            ("engine", "The assistant proposed it"),
                        ],
                        default="owner",
                        max_length=10,
                    ),
                ),
                (
                    "why",
                    models.TextField(
                        blank=True, help_text="Why it was scheduled; why it was skipped or held."
                    ),
                ),
                (
                    "confidence",
                    models.FloatField(default=0.0, help_text="The engine's confidence (engine and promise)."),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("fired_at", models.DateTimeField(blank=True, null=True)),
                ("answered_through", models.BigIntegerField(default=0)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="followups",
                        to="conversations.conversation",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
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
                    "promise",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="followups",
                        to="conversations.promise",
                    ),
                ),
            ],
            options={
                "ordering": ["due_at", "id"],
            },
        ),
        migrations.AddIndex(
            model_name="promise",
            index=models.Index(fields=["status", "due_at"], name="promise_status_due"),
        ),
        migrations.AddConstraint(
            model_name="promise",
            constraint=models.UniqueConstraint(
                fields=("message", "what"), name="one_promise_per_message_and_what"
            ),
        ),
        migrations.AddIndex(
            model_name="followup",
            index=models.Index(fields=["status", "due_at"], name="followup_status_due"),
        ),
    ]

"""Phone calls through Twilio Voice (issue 18)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conversations", "0010_followups")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="put_through",
            field=models.BooleanField(
                default=False,
                help_text="Phone calls from this contact are forwarded to you instead of answered.",
            ),
        ),
        migrations.AddField(
            model_name="ownersettings",
            name="forward_calls_to",
            field=models.CharField(
                blank=True,
                help_text="Optional: your own phone number (+E.164) that calls from contacts marked 'put through' "
                "are forwarded to; empty: your WhatsApp number above.",
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="channelaccount",
            name="provider",
            field=models.CharField(
                choices=[
                    ("whatsapp", "WhatsApp (Meta Cloud API)"),
                    ("twilio", "WhatsApp (Twilio)"),
                    ("webchat", "Web chat"),
                    ("voice", "Phone calls (Twilio Voice)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="escalation",
            name="reason",
            field=models.CharField(
                choices=[
                    ("engine_failing", "The AI engine keeps failing"),
                    ("low_confidence", "The assistant is unsure"),
                    ("guard", "A guard held a reply"),
                    ("rule", "Your rule says to escalate this category"),
                    ("unreadable_message", "A message the assistant cannot read (media, location, contacts)"),
                    ("send_failed", "A reply could not be delivered"),
                    ("window_closed", "WhatsApp's 24-hour window has closed"),
                    ("send_outcome_unknown", "A send was interrupted; it may or may not have arrived"),
                    ("loop", "Automatic replies stopped: the company looks like another bot"),
                    ("unverified_sender", "An unknown sender claims to be a company you know"),
                    ("category", "The assistant reads the conversation differently from your rules"),
                    (
                        "group_message",
                        "A message in a WhatsApp group: the assistant never answers groups itself",
                    ),
                    ("call_message", "A caller left a message"),
                ],
                max_length=40,
            ),
        ),
        migrations.CreateModel(
            name="Call",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("call_sid", models.CharField(max_length=64, unique=True)),
                (
                    "status",
                    models.CharField(
                        blank=True, help_text="Twilio's CallStatus, e.g. completed.", max_length=20
                    ),
                ),
                (
                    "duration",
                    models.PositiveIntegerField(blank=True, help_text="Seconds (CallDuration).", null=True),
                ),
                (
                    "outcome",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("", "In progress"),
                            ("answered", "Answered on your behalf"),
                            ("message_taken", "Took a message for you"),
                            ("put_through", "Put through to you"),
                            ("ended", "Ended politely (ignored or spam)"),
                            ("no_speech", "The caller said nothing"),
                        ],
                        default="",
                        max_length=16,
                    ),
                ),
                ("turns", models.PositiveSmallIntegerField(default=0, help_text="Speech turns heard.")),
                ("summary", models.TextField(blank=True)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="calls",
                        to="conversations.conversation",
                    ),
                ),
            ],
            options={"ordering": ["-id"]},
        ),
    ]

"""One identity per contact: phone and user ids; groups (issue 13).

Existing contacts are linked: a WhatsApp contact keyed on its number gets that number as
`phone` (when blank), one keyed on a business-scoped user id (`US.1349…`) gets it as
`user_id`. Nothing is merged: two rows that turn out to be one person stay as they are
and are found by either identifier from now on (docs/architecture.md).
"""

import re

from django.db import migrations, models
from django.db.models import Q

_PHONE = re.compile(r"\d{5,20}")
_USER_ID = re.compile(r"[A-Z]{2}\.[A-Za-z0-9.]{1,140}")


def link_identities(apps, schema_editor):
    Contact = apps.get_model("conversations", "Contact")
    changed = []
    for contact in Contact.objects.exclude(address__startswith="webchat:").iterator(chunk_size=2000):
        address = contact.address.strip()
        if _USER_ID.fullmatch(address) and not contact.user_id:
            contact.user_id = address
            # A phone a previous version wrote from the user id's digits is no phone at all.
            if contact.phone and not _PHONE.fullmatch(contact.phone.lstrip("+")):
                contact.phone = ""
            changed.append(contact)
        elif _PHONE.fullmatch(address.lstrip("+")) and not contact.phone:
            contact.phone = address.lstrip("+")
            changed.append(contact)
    Contact.objects.bulk_update(changed, ["phone", "user_id"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [("conversations", "0007_daily_digest")]

    operations = [
        migrations.AddField(
            model_name="contact",
            name="user_id",
            field=models.CharField(
                blank=True,
                help_text="WhatsApp business-scoped user id (e.g. US.1349…), if known.",
                max_length=160,
            ),
        ),
        migrations.AddField(
            model_name="contact",
            name="parent_user_id",
            field=models.CharField(blank=True, max_length=160),
        ),
        migrations.AddField(
            model_name="contact",
            name="identity_changed_at",
            field=models.DateTimeField(
                blank=True,
                help_text="WhatsApp said this contact's identity changed (new device or reinstall): the "
                "assistant does not act for them until you confirm it is still them.",
                null=True,
            ),
        ),
        migrations.RunPython(link_identities, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="contact",
            constraint=models.UniqueConstraint(
                condition=~Q(user_id=""), fields=("user_id", "owner"), name="unique_contact_user_id"
            ),
        ),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(fields=["phone", "owner"], name="contact_phone_owner"),
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
                ],
                max_length=40,
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("approve", "Approved a draft"),
                    ("edit", "Edited a draft"),
                    ("reject", "Rejected a draft"),
                    ("take_over", "Took the conversation over"),
                    ("release", "Handed the conversation back"),
                    ("manual_reply", "Replied by hand"),
                    ("settings", "Changed settings"),
                    ("rule", "Changed a rule"),
                    ("fact", "Changed a fact"),
                    ("disclose", "Shared a fact with a company"),
                    ("no_reply", "Decided not to reply"),
                    ("confirm_identity", "Confirmed a contact's changed identity"),
                ],
                max_length=16,
            ),
        ),
    ]

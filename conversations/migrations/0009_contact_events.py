"""Number changes, identity changes, echoes, edits and revokes (issue 13)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("conversations", "0008_contact_identity")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="edited_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="message",
            name="revoked_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]

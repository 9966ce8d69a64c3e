"""Number changes, identity changes, echoes, edits and revokes (issue 13)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0008_contact_identity")]

    operations = []

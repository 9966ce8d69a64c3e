"""Follow-ups and promises (issue 15)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0009_contact_events")]

    operations = []

"""Phone calls through Twilio Voice (issue 18)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0010_followups")]

    operations = []

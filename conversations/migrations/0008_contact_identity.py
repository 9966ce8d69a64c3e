"""One identity per contact: phone and user ids; groups (issue 13)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0007_daily_digest")]

    operations = []

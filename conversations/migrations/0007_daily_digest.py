"""The daily digest and the allowed origins (issue 14)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0006_owner_phone")]

    operations = []

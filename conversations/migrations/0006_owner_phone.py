"""Approvals from the owner's phone (issue 14)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("conversations", "0005_printed_and_metrics")]

    operations = []

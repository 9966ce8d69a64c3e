"""The admin's category filter names a built-in category by its label (ai/categories.py), an owner's own as written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from conversations.setup import owner_setup

pytestmark = pytest.mark.django_db


def test_the_conversation_filter_shows_the_builtin_label_and_the_owners_own_name(client, make_conversation):
    owner = owner_setup(username="ana", password="pw").owner
    make_conversation(owner, category="cellphone_provider")
    make_conversation(owner, contact_address="5511888880000", category="insurance")
    client.force_login(owner)

    page = client.get(reverse("admin:conversations_conversation_changelist"))

    assert page.status_code == 200
    html = page.content.decode()
    assert "?category=cellphone_provider" in html and ">Phone company<" in html
    assert "?category=insurance" in html and ">insurance<" in html

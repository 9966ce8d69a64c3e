"""Fixtures for the WhatsApp edge tests: a loopback Graph API and the provider pointed at it."""

from __future__ import annotations

import pytest

from channels_app.testing.graph_api import GraphAPIStandIn
from channels_app.whatsapp.provider import MetaWhatsAppProvider
from channels_app.whatsapp.tests.helpers import GRAPH_TOKEN


@pytest.fixture
def graph():
    """A loopback Graph API that checks our bearer token."""
    with GraphAPIStandIn(token=GRAPH_TOKEN) as stand_in:
        yield stand_in


@pytest.fixture
def provider(graph):
    """The real provider pointed at the stand-in, with a short timeout."""
    meta = MetaWhatsAppProvider("whatsapp", graph_api_url=graph.url, api_token=GRAPH_TOKEN, timeout=2.0)
    yield meta
    meta.close()

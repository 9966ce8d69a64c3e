"""A provider that prints replies instead of sending them: the default until a real one is set up.

Like Django's console email backend, it lets a fresh `make run` show the whole flow
without credentials; the log says plainly that nothing left the machine.
"""

from __future__ import annotations

import logging
import uuid

from conversations.providers import ChannelProvider, OutboundTemplate, OutboundText, SendReceipt

logger = logging.getLogger(__name__)


class ConsoleProvider(ChannelProvider):
    """Logs each outbound text and accepts it under a made-up id; the message is recorded as printed."""

    prints = True

    def send_text(self, message: OutboundText) -> SendReceipt:
        logger.warning(
            "[%s not configured: printed, not sent] to %s: %s",
            self.alias,
            message.to_phone or message.to,
            message.text,
        )
        return SendReceipt(provider_message_id=f"console.{uuid.uuid4().hex}")

    def send_template(self, message: OutboundTemplate) -> SendReceipt:
        """Logs the re-engagement template it would send, so the window flow can be demonstrated."""
        logger.warning(
            "[%s not configured: printed, not sent] template %s (%s) to %s",
            self.alias,
            message.template,
            message.language or "-",
            message.to_phone or message.to,
        )
        return SendReceipt(provider_message_id=f"console.{uuid.uuid4().hex}")

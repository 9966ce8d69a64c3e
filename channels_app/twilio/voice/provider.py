"""The `voice` channel's outbound side: a call is answered on the line, never texted afterwards."""

from __future__ import annotations

from conversations.providers import ChannelProvider, OutboundText, SendFailure, SendReceipt


class VoiceProvider(ChannelProvider):
    """Refuses text sends: the caller hung up; an owner's reply by hand means calling them back."""

    def send_text(self, message: OutboundText) -> SendReceipt:
        raise SendFailure(
            "a phone call cannot be answered by text once it has ended: call the company back",
            code="voice_no_text",
        )

"""The web-chat edge: a live chat page, its socket and HTTP twin, and an embeddable widget.

Visitors' messages are parsed into the same `InboundMessage` as WhatsApp's and stored by the
same `ingest_batch`, so rules, guards, drafts, approvals and escalation are identical. Replies
leave through `WebChatProvider.send_text`, which rings the conversation's channel-layer group;
the database stays the record, the layer is only a doorbell.
"""

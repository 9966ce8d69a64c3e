"""The web-chat edge: a live chat page, its socket and HTTP twin, and an embeddable widget.

Visitors' messages are parsed into the same `InboundMessage` as WhatsApp's and stored by the
same `ingest_batch`, so rules, guards, drafts, approvals and escalation are identical. Replies
leave through `WebChatProvider.send_text`, which rings the conversation's channel-layer group;
the database stays the record, the layer is only a doorbell.

The contract (docs/architecture.md) plus compatible additions that clients may ignore:

- client frame ``{"type": "message", "text", "client_id"?, "name"?}``: a ``client_id`` makes a
  retry idempotent (it is echoed back in the visitor's ``message`` frame and in ``error`` frames);
  ``name`` ("Your name or company") fills the contact's name when it has none;
- server frames ``{"type": "typing"}`` while a reply is drafted, ``{"type": "held"}`` when it
  waits for the owner's approval, ``"held"`` in the history frame, and ``"code"`` (and
  ``"retry_after"``) in ``error`` frames;
- an unknown slug: an ``error`` frame, then the socket closes with code 4404.

The widget, on a site listed in the account's ``allowed_origins``::

    <script src="https://<gatekeeper>/static/webchat/widget.js" data-slug="<slug>" async></script>
"""

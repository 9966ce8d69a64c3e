"""WhatsApp through Twilio: webhook signatures, form parser, outbound provider (the `twilio` SDK), views."""

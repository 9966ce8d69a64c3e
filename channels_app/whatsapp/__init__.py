"""WhatsApp through Meta's Cloud API: webhook signature, payload parser, outbound provider, views."""

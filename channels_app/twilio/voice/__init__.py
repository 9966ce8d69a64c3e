"""Twilio Voice: the owner's phone number answered by the assistant (docs/architecture.md, "Phone calls")."""

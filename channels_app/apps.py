from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels_app import checks  # noqa: F401  (registers the check that providers can send)
        from channels_app.twilio import views as twilio
        from channels_app.webchat import checks as webchat_checks  # noqa: F401  (the web-chat checks)
        from channels_app.whatsapp import parser
        from conversations import deliveries
        from conversations.models import Provider

        # Webhook bodies are stored as they came and read again by the ingest job.
        deliveries.register_reader(Provider.WHATSAPP, parser.read_body)
        deliveries.register_reader(twilio.MESSAGE_DELIVERY, twilio.read_message)
        deliveries.register_reader(twilio.STATUS_DELIVERY, twilio.read_status)

from django.apps import AppConfig


class ChannelsAppConfig(AppConfig):
    name = "channels_app"
    verbose_name = "Channels"

    def ready(self) -> None:
        from channels_app import checks  # noqa: F401  (registers the check that providers can send)
        from channels_app.webchat import checks as webchat_checks  # noqa: F401  (the web-chat checks)

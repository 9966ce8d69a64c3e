from django.apps import AppConfig


class AiConfig(AppConfig):
    name = "ai"
    verbose_name = "AI engines"

    def ready(self) -> None:
        from ai import checks  # noqa: F401  (registers the engine settings' checks)

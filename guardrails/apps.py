from django.apps import AppConfig
from django.db.models.signals import post_migrate


class GuardrailsConfig(AppConfig):
    name = "guardrails"
    verbose_name = "Guardrails and policies"

    def ready(self) -> None:
        # Importing the catalog registers every policy class.
        from guardrails import catalog  # noqa: F401
        from guardrails.limits.pricing import sync_builtin_prices

        post_migrate.connect(sync_builtin_prices, sender=self)

from django.apps import AppConfig


class GuardrailsConfig(AppConfig):
    name = "guardrails"
    verbose_name = "Guardrails and policies"

    def ready(self) -> None:
        # Importing the catalog registers every policy class.
        from guardrails import catalog  # noqa: F401

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ProxiesConfig(AppConfig):
    name = "proxies"
    verbose_name = "Providers and proxies"

    def ready(self) -> None:
        from proxies.templates import sync_builtin_templates

        post_migrate.connect(sync_builtin_templates, sender=self)

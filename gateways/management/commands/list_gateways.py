"""List gateways with their Active / Not Active status."""

from core.commands import ServiceCommand
from gateways.selectors import gateways_with_status


class Command(ServiceCommand):
    help = (
        "List gateways: ID, name, base URL, environment and status (Active while a gateway "
        "process has sent a heartbeat recently)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true")

    def run(self, *args, **options) -> None:
        gateways = list(gateways_with_status())
        if options["json"]:
            self.emit_json(
                [
                    {
                        "id": g.slug,
                        "name": g.name,
                        "base_url": g.base_url,
                        "environment": g.environment,
                        "active": g.is_active,
                    }
                    for g in gateways
                ]
            )
            return
        self.emit_table(
            ["ID", "NAME", "BASE URL", "ENVIRONMENT", "STATUS"],
            [(g.slug, g.name, g.base_url, g.environment, _status(g.is_active)) for g in gateways],
        )


def _status(active: bool) -> str:
    return "Active" if active else "Not Active"

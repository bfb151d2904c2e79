"""Deploy a proxy to a gateway: snapshot its configuration and serve it there."""

from core.commands import ServiceCommand
from deployments import services
from gateways.selectors import gateway_get
from proxies.selectors import proxy_get


class Command(ServiceCommand):
    help = (
        "Deploy PROXY to GATEWAY (both IDs). Prints the deployment id on stdout and its name "
        "and status on stderr; --json prints all three. Any earlier deployment there is "
        "archived."
    )

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", help="Proxy ID.")
        parser.add_argument("gateway", metavar="GATEWAY", help="Gateway ID.")
        parser.add_argument("--reason", default="", help="Why, shown in the history.")
        parser.add_argument("--json", action="store_true")

    def run(self, *args, proxy: str, gateway: str, reason: str, **options) -> None:
        deployment = services.deploy(
            proxy=proxy_get(proxy), gateway=gateway_get(gateway), reason=reason
        )
        if options["json"]:
            self.emit_json(
                {"id": str(deployment.pk), "name": deployment.name, "status": deployment.status}
            )
        else:
            self.emit(deployment.pk)
        self.note(f"{deployment.name} {deployment.status}: proxy {proxy} on gateway {gateway}.")

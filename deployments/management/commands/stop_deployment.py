"""Stop (undeploy) a deployment: the gateway stops serving the proxy within a second."""

from django.core.management.base import CommandError

from core.commands import ServiceCommand
from deployments import services
from deployments.selectors import current_deployment, deployment_get
from gateways.selectors import gateway_get
from proxies.selectors import proxy_get


class Command(ServiceCommand):
    help = (
        "Stop the current deployment of PROXY on GATEWAY, or the deployment DEPLOYMENT_ID. "
        "Prints the stopped deployment's id."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "target",
            metavar="PROXY GATEWAY | DEPLOYMENT_ID",
            nargs="+",
            help="A Proxy ID and a gateway ID, or one deployment id (UUID).",
        )

    def run(self, *args, target: list[str], **options) -> None:
        if len(target) == 1:
            deployment = deployment_get(deployment_id=target[0])
        elif len(target) == 2:
            proxy, gateway = proxy_get(target[0]), gateway_get(target[1])
            deployment = current_deployment(proxy=proxy, gateway=gateway)
            if deployment is None:
                raise CommandError(
                    f"Proxy '{proxy.slug}' is not deployed on gateway '{gateway.slug}'."
                )
        else:
            raise CommandError("Give PROXY GATEWAY, or one DEPLOYMENT_ID.")
        deployment = services.stop(deployment=deployment)
        self.emit(deployment.pk)
        self.note(
            f"Stopped {deployment.name} of proxy {deployment.proxy.slug} "
            f"on gateway {deployment.gateway.slug}."
        )

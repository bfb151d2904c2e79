"""Serve an earlier deployment's snapshot again, as a new deployment."""

from core.commands import ServiceCommand
from deployments import services
from deployments.selectors import deployment_get


class Command(ServiceCommand):
    help = (
        "Restore the deployment DEPLOYMENT_ID (see list_deployments) on its gateway. "
        "Prints the id of the new deployment."
    )

    def add_arguments(self, parser):
        parser.add_argument("deployment_id", metavar="DEPLOYMENT_ID", help="A deployment UUID.")
        parser.add_argument("--reason", default="", help="Why, shown in the history.")

    def run(self, *args, deployment_id: str, reason: str, **options) -> None:
        earlier = deployment_get(deployment_id=deployment_id)
        deployment = services.restore(deployment=earlier, reason=reason)
        self.emit(deployment.pk)
        self.note(
            f"{deployment.name} {deployment.status}: restored from {earlier.name} "
            f"(proxy {deployment.proxy.slug}, gateway {deployment.gateway.slug})."
        )

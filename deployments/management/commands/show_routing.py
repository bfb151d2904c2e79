"""Show the routing targets of a deployed proxy and the state its gateways see them in."""

from core.commands import ServiceCommand, format_time
from deployments.selectors import proxy_routing_state
from proxies.selectors import proxy_get


class Command(ServiceCommand):
    help = (
        "Show the routing targets of PROXY's current deployments (its provider, its failover "
        "targets, its round robin's models) with the state the gateways' active processes "
        "report: closed, half_open, suspended or open, until when, and who sees it."
    )

    def add_arguments(self, parser):
        parser.add_argument("proxy", metavar="PROXY", help="Proxy ID.")
        parser.add_argument("--json", action="store_true")

    def run(self, *args, proxy: str, **options) -> None:
        state = proxy_routing_state(proxy_get(proxy))
        if options["json"]:
            self.emit_json(state)
            return
        if not state["gateways"]:
            self.note(f"Proxy {state['proxy']} is not deployed; no gateway routes it.")
            return
        self.emit_table(
            ["TARGET", "ROLE", "STATE", "UNTIL", "FAILURES", "SEEN BY"],
            [
                (
                    t["target"],
                    t["role"],
                    t["state"],
                    format_time(t["until"]),
                    t["failures"],
                    ", ".join(f"{p['gateway']}@{p['hostname']}:{p['pid']}" for p in t["processes"])
                    or "-",
                )
                for t in state["targets"]
            ],
        )

"""List deployments with the history tags Latest and Deployed."""

from itertools import groupby

from core.commands import ServiceCommand, format_time
from deployments.selectors import deployments_for, history_tags, latest_ids
from gateways.selectors import gateway_get
from proxies.selectors import proxy_get


class Command(ServiceCommand):
    help = (
        "List deployments, newest first: name, id, proxy, gateway, status, tags and creation "
        "time. Latest marks the newest deployment of a proxy on a gateway."
    )

    def add_arguments(self, parser):
        parser.add_argument("--proxy", metavar="P", help="Only this proxy (ID).")
        parser.add_argument("--gateway", metavar="G", help="Only this gateway (ID).")
        parser.add_argument("--json", action="store_true")

    def run(self, *args, **options) -> None:
        deployments = list(
            deployments_for(
                proxy=proxy_get(options["proxy"]) if options["proxy"] else None,
                gateway=gateway_get(options["gateway"]) if options["gateway"] else None,
            )
        )
        latest = set()
        # latest_ids works on one proxy's history, so apply it proxy by proxy.
        by_proxy = sorted(deployments, key=lambda d: d.proxy_id)
        for _, history in groupby(by_proxy, key=lambda d: d.proxy_id):
            latest |= latest_ids(list(history))
        rows = [(d, history_tags(d, latest)) for d in deployments]
        if options["json"]:
            self.emit_json(
                [
                    {
                        "id": str(d.pk),
                        "name": d.name,
                        "proxy": d.proxy.slug,
                        "gateway": d.gateway.slug,
                        "status": d.status,
                        "tags": tags,
                        "reason": d.reason,
                        "restored_from": str(d.restored_from_id) if d.restored_from_id else None,
                        "created_at": d.created_at,
                        "stopped_at": d.stopped_at,
                    }
                    for d, tags in rows
                ]
            )
            return
        self.emit_table(
            ["NAME", "ID", "PROXY", "GATEWAY", "STATUS", "TAGS", "CREATED"],
            [
                (
                    d.name,
                    d.pk,
                    d.proxy.slug,
                    d.gateway.slug,
                    d.status,
                    ", ".join(tags) or "-",
                    format_time(d.created_at),
                )
                for d, tags in rows
            ],
        )

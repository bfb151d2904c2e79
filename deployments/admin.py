"""Admin for deployments: immutable records with Stop and Restore, and the proxy's
"Deploy to gateway" page."""

import json
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from core.admin import ServiceAdmin, admin_url, tool, user_may
from core.errors import DomainError
from deployments import services
from deployments.models import Deployment, DeploymentStatus
from deployments.selectors import (
    deployment_get,
    deployments_for,
    history_tags,
    is_out_of_date,
    latest_ids,
)
from gateways.selectors import gateway_get, gateways_with_status
from proxies.models import Proxy
from proxies.selectors import invoke_url


@admin.register(Deployment)
class DeploymentAdmin(ServiceAdmin):
    """Deployments are created by Deploy and Restore and never edited; old ones may be deleted."""

    list_display = (
        "name",
        "proxy",
        "gateway",
        "status",
        "out_of_date",
        "created_at",
        "created_by",
    )
    list_filter = ("status", "gateway")
    list_select_related = ("proxy", "gateway", "created_by")
    search_fields = ("name", "proxy__name", "proxy__slug", "gateway__name")
    list_per_page = 50
    fields = (
        "name",
        "proxy",
        "gateway",
        "status",
        "out_of_date",
        "reason",
        "restored_from",
        "created_by",
        "created_at",
        "stopped_at",
        "snapshot_digest",
        "snapshot_json",
    )
    readonly_fields = fields
    actions = ("stop", "restore")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_deploy_permission(self, request: HttpRequest) -> bool:
        """Deploy and Restore create deployments."""
        return user_may(request, Deployment, "add")

    def has_stop_permission(self, request: HttpRequest) -> bool:
        return user_may(request, Deployment, "change")

    def service_delete(self, obj: Deployment) -> None:
        services.delete_record(deployment=obj)

    @admin.display(description="Out of date")
    def out_of_date(self, obj: Deployment) -> str:
        if not obj.is_current:
            return ""
        return "out of date: redeploy to apply changes" if is_out_of_date(obj) else "up to date"

    @admin.display(description="Snapshot")
    def snapshot_json(self, obj: Deployment) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.snapshot, indent=2, sort_keys=True))

    @admin.action(description="Stop selected deployments", permissions=["stop"])
    def stop(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_to_each(
            request, queryset, lambda d: services.stop(deployment=d, user=request.user), "Stopped"
        )

    @admin.action(description="Restore selected deployments", permissions=["deploy"])
    def restore(self, request: HttpRequest, queryset: QuerySet) -> None:
        self.apply_to_each(
            request,
            queryset,
            lambda d: services.restore(deployment=d, user=request.user),
            "Restored",
        )

    def object_tools(self, request, obj: Deployment) -> list[dict[str, Any]]:
        tools = []
        if obj.is_current and self.has_stop_permission(request):
            tools.append(tool("Stop", admin_url(obj, "stop"), post=True, confirm="Stop serving?"))
        if obj.status != DeploymentStatus.DEPLOYED and self.has_deploy_permission(request):
            tools.append(tool("Restore", admin_url(obj, "restore"), post=True))
        tools.append(tool("Proxy deployments", admin_url(obj.proxy, "deploy")))
        return tools

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<path:object_id>/stop/",
                self.admin_site.admin_view(self.stop_view),
                name="{}_{}_stop".format(*info),
            ),
            path(
                "<path:object_id>/restore/",
                self.admin_site.admin_view(self.restore_view),
                name="{}_{}_restore".format(*info),
            ),
            *super().get_urls(),
        ]

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        deployment = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_stop_permission(request):
            raise PermissionDenied
        self._run(request, lambda: services.stop(deployment=deployment, user=request.user))
        return HttpResponseRedirect(admin_url(deployment))

    def restore_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        deployment = self.get_object_or_404(request, object_id)
        if request.method != "POST" or not self.has_deploy_permission(request):
            raise PermissionDenied
        restored = self._run(
            request, lambda: services.restore(deployment=deployment, user=request.user)
        )
        return HttpResponseRedirect(admin_url(restored or deployment))

    def _run(self, request: HttpRequest, operation) -> Deployment | None:
        """Run a deploy / stop / restore and say what happened."""
        try:
            deployment = operation()
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return None
        self.message_user(
            request,
            f"{deployment.proxy.name} on {deployment.gateway.name}: {deployment.name} is now "
            f"{deployment.get_status_display().lower()}.",
            messages.SUCCESS,
        )
        return deployment

    # --- the proxy's "Deploy to gateway" page (routed from the proxy admin) ------------------

    def deploy_page(self, request: HttpRequest, proxy: Proxy) -> HttpResponse:
        """Gateways with status and the proxy's current deployment on each; Deploy / Stop /
        Restore buttons POST back here."""
        if request.method == "POST":
            return self._deploy_page_action(request, proxy)
        query = request.GET.get("q", "").strip()
        gateways = gateways_with_status().order_by("name")
        if query:
            gateways = gateways.filter(Q(name__icontains=query) | Q(slug__icontains=query))
        history = list(deployments_for(proxy=proxy))
        current = {d.gateway_id: d for d in history if d.is_current}
        latest = latest_ids(history)
        cards = [
            {
                "gateway": gateway,
                "current": current.get(gateway.pk),
                "out_of_date": gateway.pk in current and is_out_of_date(current[gateway.pk]),
                "invoke_url": invoke_url(proxy, gateway),
            }
            for gateway in gateways
        ]
        timeline = [{"deployment": d, "tags": history_tags(d, latest)} for d in history]
        context = {
            **self.admin_site.each_context(request),
            "opts": Proxy._meta,
            "original": proxy,
            "title": f"Deploy {proxy.name} to a gateway",
            "cards": cards,
            "timeline": timeline,
            "query": query,
            "can_deploy": self.has_deploy_permission(request),
            "can_stop": self.has_stop_permission(request),
        }
        return TemplateResponse(request, "admin/deployments/deploy.html", context)

    def _deploy_page_action(self, request: HttpRequest, proxy: Proxy) -> HttpResponse:
        action = request.POST.get("action")
        if action not in ("deploy", "stop", "restore"):
            return HttpResponseBadRequest("Unknown action.")
        allowed = self.has_stop_permission if action == "stop" else self.has_deploy_permission
        if not allowed(request):
            raise PermissionDenied

        def operation() -> Deployment:
            if action == "deploy":
                gateway = gateway_get(request.POST.get("gateway", ""))
                return services.deploy(proxy=proxy, gateway=gateway, user=request.user)
            deployment = deployment_get(proxy=proxy, deployment_id=request.POST.get("deployment"))
            if action == "stop":
                return services.stop(deployment=deployment, user=request.user)
            return services.restore(deployment=deployment, user=request.user)

        self._run(request, operation)
        return HttpResponseRedirect(request.get_full_path())

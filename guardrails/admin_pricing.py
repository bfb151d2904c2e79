"""Admin for the model pricing table used for usage costs and cost limits. Writes go through
the services."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse

from core.admin import ServiceAdmin, tool
from core.errors import DomainError
from core.forms import ServiceModelForm
from guardrails import services
from guardrails.limits.price_list import SHIPPED, shipped_prices
from guardrails.models import ModelPrice
from guardrails.services import PRICE_FIELDS


class ModelPriceForm(ServiceModelForm):
    class Meta(ServiceModelForm.Meta):
        model = ModelPrice
        fields = ("model", *PRICE_FIELDS)

    def write(self, data: dict[str, Any]) -> ModelPrice:
        if self.adding:
            return services.model_price_create(
                model=data["model"], **{name: data.get(name) for name in PRICE_FIELDS}
            )
        return services.model_price_update(price=self.instance, **self.changed(data, PRICE_FIELDS))


@admin.register(ModelPrice)
class ModelPriceAdmin(ServiceAdmin):
    form = ModelPriceForm
    list_display = (
        "model",
        "vendor",
        "input_per_million",
        "output_per_million",
        "cached_input_per_million",
        "cache_write_per_million",
        "checked_on",
        "price_list",
        "edited",
        "updated_at",
    )
    list_filter = ("vendor", "builtin", "edited")
    search_fields = ("model",)
    readonly_fields = ("builtin", "price_list", "edited", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return ("model", *fields) if obj is not None else fields

    def service_delete(self, obj: ModelPrice) -> None:
        services.model_price_delete(price=obj)

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def changelist_tools(self, request: HttpRequest) -> list[dict[str, Any]]:
        if not self.has_refresh_permission(request):
            return []
        url = reverse("admin:guardrails_modelprice_refresh")
        confirm = "Load the shipped price list? Prices an admin edited or added are kept."
        return [tool("Load the shipped price list", url, post=True, confirm=confirm)]

    def get_urls(self):
        return [
            path(
                "refresh/",
                self.admin_site.admin_view(self.refresh_view),
                name="guardrails_modelprice_refresh",
            ),
            *super().get_urls(),
        ]

    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Load the shipped price list (``refresh_prices`` without ``--file``)."""
        if request.method != "POST" or not self.has_refresh_permission(request):
            raise PermissionDenied
        try:
            result = services.model_prices_refresh(
                prices=list(shipped_prices()), price_list=SHIPPED
            )
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
        else:
            kept = f"; kept {len(result.kept)} an admin edited or added" if result.kept else ""
            self.message_user(
                request,
                f"Loaded the shipped price list: {len(result.created)} added, "
                f"{len(result.updated)} updated{kept}.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:guardrails_modelprice_changelist"))

"""Admin for the model pricing table used by cost limits. Writes go through the services."""

from typing import Any

from django.contrib import admin

from core.admin import ServiceAdmin
from core.forms import ServiceModelForm
from guardrails import services
from guardrails.models import ModelPrice

PRICE_FIELDS = ("vendor", "input_per_million", "output_per_million", "cached_input_per_million")


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
        "builtin",
        "edited",
        "updated_at",
    )
    list_filter = ("vendor", "builtin", "edited")
    search_fields = ("model",)
    readonly_fields = ("builtin", "edited", "created_at", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        return ("model", *fields) if obj is not None else fields

    def service_delete(self, obj: ModelPrice) -> None:
        services.model_price_delete(price=obj)

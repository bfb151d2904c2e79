"""Routes for the policy catalog, the guardrail chains of proxies and providers, and the
pricing table."""

from rest_framework.routers import SimpleRouter

from guardrails.api import views

router = SimpleRouter()
router.register("guardrails/catalog", views.CatalogViewSet, basename="policy")
router.register(
    r"proxies/(?P<proxy_slug>[^/.]+)/guardrails",
    views.ProxyGuardrailViewSet,
    basename="proxy-guardrail",
)
router.register(
    r"providers/(?P<provider_slug>[^/.]+)/guardrails",
    views.ProviderGuardrailViewSet,
    basename="provider-guardrail",
)
router.register("prices", views.ModelPriceViewSet, basename="price")

urlpatterns = router.urls

"""Routes for the policy catalog and the guardrail chains of proxies and providers."""

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

urlpatterns = router.urls

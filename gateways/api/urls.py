"""Routes for gateways, their registration tokens, and usage records."""

from rest_framework.routers import SimpleRouter

from gateways.api import usage, views

router = SimpleRouter()
router.register("gateways", views.GatewayViewSet, basename="gateway")
router.register(
    r"gateways/(?P<gateway_slug>[^/.]+)/tokens", views.GatewayTokenViewSet, basename="gateway-token"
)
router.register("usage", usage.UsageRecordViewSet, basename="usage-record")

urlpatterns = router.urls

"""Routes for gateways and their registration tokens."""

from rest_framework.routers import SimpleRouter

from gateways.api import views

router = SimpleRouter()
router.register("gateways", views.GatewayViewSet, basename="gateway")
router.register(
    r"gateways/(?P<gateway_slug>[^/.]+)/tokens", views.GatewayTokenViewSet, basename="gateway-token"
)

urlpatterns = router.urls

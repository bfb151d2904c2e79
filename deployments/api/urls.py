"""Routes for deployments: nested under proxies, plus a flat read-only list."""

from rest_framework.routers import SimpleRouter

from deployments.api import views

router = SimpleRouter()
router.register("deployments", views.DeploymentViewSet, basename="deployment")
router.register(
    r"proxies/(?P<proxy_slug>[^/.]+)/deployments",
    views.ProxyDeploymentViewSet,
    basename="proxy-deployment",
)

urlpatterns = router.urls

"""Routes for templates, providers, proxies and a proxy's API keys."""

from rest_framework.routers import SimpleRouter

from proxies.api import views

router = SimpleRouter()
router.register("templates", views.TemplateViewSet, basename="template")
router.register("providers", views.ProviderViewSet, basename="provider")
router.register("proxies", views.ProxyViewSet, basename="proxy")
router.register(
    r"proxies/(?P<proxy_slug>[^/.]+)/api-keys", views.ProxyAPIKeyViewSet, basename="proxy-api-key"
)

urlpatterns = router.urls

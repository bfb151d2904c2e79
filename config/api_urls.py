"""The management API under /api/v1/."""

urlpatterns: list = []

"""Django model permissions for the API, including 'view' for reads."""

from rest_framework.permissions import DjangoModelPermissions


class ModelPermissions(DjangoModelPermissions):
    """Reads need ``view_<model>``; writes need add / change / delete as usual.

    The model is the one the view lists, so nested routes (a proxy's API keys) check the
    nested model. A view's ``action_permissions`` maps custom actions to the verbs they need
    (``{"stop": ["change"]}``), because a POST to ``stop`` changes a record rather than adding one.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
        "OPTIONS": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request, view) -> bool:
        verbs = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        if verbs is None:
            return super().has_permission(request, view)
        if not request.user or not request.user.is_authenticated:
            return False
        meta = self._queryset(view).model._meta
        return request.user.has_perms(
            [f"{meta.app_label}.{verb}_{meta.model_name}" for verb in verbs]
        )

"""The base of every Gatehouse model admin: writes go through services, and a service's
refusal is shown as a form error or a message, never a 500. Plus the small pieces the admins
share: permission checks, links, object tools and the page that shows a secret once."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_permission_codename
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db import models, transaction
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from core.errors import DomainError
from core.forms import ServiceModelForm


def user_may(request: HttpRequest, model: type[Model], action: str) -> bool:
    """Whether the user holds Django's ``action`` permission (add, change, ...) on ``model``."""
    opts = model._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")


def admin_url(obj: Model, view: str = "change") -> str:
    opts = obj._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[quote(obj.pk)])


def changelist_url(model: type[Model], **filters: Any) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def admin_link(obj: Model, text: Any = None) -> str:
    return format_html('<a href="{}">{}</a>', admin_url(obj), text if text is not None else obj)


def tool(label: str, url: str, *, post: bool = False, confirm: str = "") -> dict[str, Any]:
    """An object-tools entry: a link, or a button that POSTs to ``url``."""
    return {"label": label, "url": url, "post": post, "confirm": confirm}


def render_issue_page(
    request: HttpRequest, model_admin: admin.ModelAdmin, **context: Any
) -> TemplateResponse:
    """The page that issues a secret and, on success, shows it in this response only."""
    defaults = {"opts": model_admin.opts, "original": None, "secret": None, "details": ()}
    return TemplateResponse(
        request,
        "admin/gatehouse/issue_secret.html",
        {**model_admin.admin_site.each_context(request), **defaults, **context},
    )


class ServiceAdmin(admin.ModelAdmin):
    """Writes go through the form's service call; deletes through ``service_delete``.

    A domain error becomes form errors (see ``ServiceModelForm``) or an error message on the
    page the user came from; the surrounding transaction is rolled back.
    """

    change_form_template = "admin/gatehouse/change_form.html"
    change_list_template = "admin/gatehouse/change_list.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def service_delete(self, obj: Model) -> None:
        raise PermissionDenied

    def object_tools(self, request: HttpRequest, obj: Model) -> list[dict[str, Any]]:
        return []

    def changelist_tools(self, request: HttpRequest) -> list[dict[str, Any]]:
        return []

    def related_tables(self, request: HttpRequest, obj: Model) -> list[dict[str, Any]]:
        return []

    def save_model(self, request, obj, form, change) -> None:
        """Nothing to do: the form wrote through the service while validating."""
        if not isinstance(form, ServiceModelForm):
            raise ImproperlyConfigured(f"{type(self).__name__} needs a ServiceModelForm.")

    def delete_model(self, request, obj) -> None:
        self.service_delete(obj)

    def delete_queryset(self, request, queryset) -> None:
        # All or nothing: a refusal rolls back the whole batch (see changelist_view).
        for obj in queryset:
            self.service_delete(obj)

    def get_deleted_objects(self, objs, request):
        deleted, counts, _perms_needed, protected = super().get_deleted_objects(objs, request)
        # Records removed with the object (keys, deployments, tokens) are the service's call,
        # and on confirmation so is refusing: it says why (e.g. PROVIDER_IN_USE).
        if request.method == "POST":
            protected = []
        return deleted, counts, set(), protected

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        with transaction.atomic():
            response = super().changeform_view(request, object_id, form_url, extra_context)
            context = getattr(response, "context_data", None) or {}
            if request.method == "POST" and context.get("errors"):
                transaction.set_rollback(True)  # the page is shown again: keep nothing
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_view_or_change_permission(request, obj):
            extra_context = {
                **(extra_context or {}),
                "object_tools": self.object_tools(request, obj),
                "related_tables": self.related_tables(request, obj),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "object_tools": self.changelist_tools(request)}
        try:
            with transaction.atomic():
                return super().changelist_view(request, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            opts = self.opts
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def apply_to_each(
        self, request: HttpRequest, queryset: QuerySet, operation: Callable[[Any], Any], verb: str
    ) -> None:
        """Run a service on each selected object; report refusals one by one."""
        done = 0
        for obj in queryset:
            try:
                with transaction.atomic():
                    operation(obj)
            except DomainError as exc:
                self.message_user(request, f"{obj}: {exc.message}", messages.ERROR)
            else:
                done += 1
        if done:
            name = self.opts.verbose_name if done == 1 else self.opts.verbose_name_plural
            self.message_user(request, f"{verb} {done} {name}.", messages.SUCCESS)

    def get_object_or_404(self, request: HttpRequest, object_id: str) -> Model:
        """The object a custom view works on, for a user who may at least view it."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj


class ReadOnlyRecordAdmin(ServiceAdmin):
    """Records created elsewhere (by a service behind a button) and never edited in a form."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

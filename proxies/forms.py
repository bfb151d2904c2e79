"""Admin forms for templates, providers, proxies and API keys."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import escape

from core.errors import DomainError, ValidationFailed
from core.forms import ServiceModelForm, apply_domain_error
from gateways.models import Gateway
from proxies import services, signin_throttle
from proxies.models import Provider, ProviderTemplate, Proxy
from proxies.selectors import default_provider
from proxies.services import PROVIDER_FIELDS, PROXY_FIELDS


class ResourcesField(forms.CharField):
    """Resources as lines of ``METHOD /path`` (a bare path means any method)."""

    widget = forms.Textarea(attrs={"rows": 6, "cols": 60})

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "One per line: METHOD /path, e.g. POST /chat/completions.")
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return "\n".join(
                f"{row.get('method', '*')} {row.get('path', '')}"
                if isinstance(row, dict)
                else str(row)
                for row in value
            )
        return value

    def to_python(self, value: Any) -> list[dict[str, str]]:
        if isinstance(value, list):
            return value
        rows = []
        for number, line in enumerate((value or "").splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 1:
                parts = ["*", parts[0]]
            if len(parts) != 2:
                raise forms.ValidationError(f"Line {number}: expected METHOD /path.")
            rows.append({"method": parts[0], "path": parts[1]})
        return rows

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


class NamesField(forms.CharField):
    """A list of names, one per line."""

    widget = forms.Textarea(attrs={"rows": 4, "cols": 60})

    def __init__(self, **kwargs: Any):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        if isinstance(value, list):
            return value
        return [line.strip() for line in (value or "").splitlines() if line.strip()]

    def has_changed(self, initial: Any, data: Any) -> bool:
        return self.to_python(initial or []) != self.to_python(data)


def _unstripped(label: str, help_text: str = "") -> forms.CharField:
    # Prefixes such as "Bearer " end in a space that must survive the form.
    return forms.CharField(label=label, required=False, strip=False, help_text=help_text)


# --- templates -------------------------------------------------------------------------------

TEMPLATE_FIELDS = (
    "display_name",
    "description",
    "adapter",
    "upstream_url",
    "upstream_url_editable",
    "stream_usage",
    "upstream_auth_header",
    "upstream_auth_prefix",
    "inbound_key_header",
    "inbound_key_prefix",
    "model_location",
    "usage_paths",
    "resources",
)


class ProviderTemplateForm(ServiceModelForm):
    upstream_auth_prefix = _unstripped("Upstream auth prefix", "e.g. 'Bearer ' (note the space).")
    inbound_key_prefix = _unstripped("Inbound key prefix")
    resources = ResourcesField()

    class Meta(ServiceModelForm.Meta):
        model = ProviderTemplate
        fields = ("slug", *TEMPLATE_FIELDS)

    def write(self, data: dict[str, Any]) -> ProviderTemplate:
        if self.adding:
            fields = self.changed(data, TEMPLATE_FIELDS)
            fields.pop("display_name", None)
            return services.template_create(
                slug=data["slug"], display_name=data["display_name"], **fields
            )
        return services.template_update(
            template=self.instance, **self.changed(data, TEMPLATE_FIELDS)
        )


# --- providers -------------------------------------------------------------------------------


def _fixed_url_help() -> str:
    fixed = ProviderTemplate.objects.filter(upstream_url_editable=False).order_by("display_name")
    listed = "; ".join(f"{t.display_name}: {t.upstream_url}" for t in fixed)
    text = "Leave blank to use the template's URL."
    # The admin renders help text as HTML; template names are user data.
    return escape(f"{text} Fixed by the template for {listed}." if listed else text)


class SecretTextarea(forms.Textarea):
    """A textarea that never renders what was typed into it, even on a form with errors."""

    def format_value(self, value: Any) -> None:
        return None


def _secret(label: str, help_text: str = "") -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=help_text,
    )


# AWS Bedrock's credential object, field by field: form field -> the object's key.
AWS_CREDENTIAL_FIELDS = {
    "aws_access_key_id": "aws_access_key_id",
    "aws_secret_access_key": "aws_secret_access_key",
    "aws_session_token": "aws_session_token",
    "aws_region": "region",
    "aws_role_arn": "role_arn",
    "aws_external_id": "external_id",
}


class ProviderForm(ServiceModelForm):
    """Providers: the credential is write-only; blank keeps it, a new value rotates it. AWS
    Bedrock's may instead be AWS keys, given in their own fields and sent as one object."""

    template = forms.ModelChoiceField(queryset=ProviderTemplate.objects.order_by("display_name"))
    credential = forms.CharField(
        label="Upstream credential",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="The provider's API key (for AWS Bedrock, a Bedrock API key, or AWS keys "
        "in their own fields below). Stored encrypted and never shown again.",
    )
    credential_pool = forms.CharField(
        label="Key pool",
        required=False,
        widget=SecretTextarea(attrs={"rows": 3, "cols": 60, "autocomplete": "off"}),
        help_text="Instead of one key: several API keys, one per line (up to 20), used in "
        "rotation; a key answering 401 or 429 rests for a while. Stored encrypted and never "
        "shown again.",
    )
    aws_access_key_id = forms.CharField(label="AWS access key ID", required=False)
    aws_secret_access_key = _secret("AWS secret access key")
    aws_session_token = _secret("AWS session token", "For temporary keys (ASIA...).")
    aws_region = forms.CharField(
        label="AWS region",
        required=False,
        help_text="e.g. us-east-1; blank uses the region of the upstream URL.",
    )
    aws_role_arn = forms.CharField(
        label="Role to assume",
        required=False,
        help_text="An IAM role ARN, assumed with STS (with the keys above, or else the "
        "gateway host's credentials).",
    )
    aws_external_id = forms.CharField(label="External ID", required=False)
    access_exceptions = ResourcesField(
        label="Access exceptions",
        help_text="Denied resources in allow-all mode, allowed ones in deny-all mode. "
        "One per line: METHOD /path.",
    )
    allowed_models = NamesField(help_text="One model name per line; empty allows any model.")
    inbound_key_name = forms.CharField(
        label="Inbound key name",
        required=False,
        help_text="Header or query parameter carrying the caller's key. "
        "Blank uses the template's header.",
    )
    inbound_key_prefix = _unstripped(
        "Inbound key prefix", "e.g. 'Bearer '. Blank on creation uses the template's prefix."
    )

    class Meta(ServiceModelForm.Meta):
        model = Provider
        fields = ("template", "credential", *PROVIDER_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        url, credential = self.fields.get("upstream_url"), self.fields.get("credential")
        if self.adding:
            if url is not None:
                url.required = False
                url.help_text = _fixed_url_help()
            return
        pool = self.fields.get("credential_pool")
        if pool is not None:
            pool.label = "New key pool"
            pool.help_text = (
                "Leave blank to keep the current credential; several API keys, one per line "
                "(up to 20), replace it and are used in rotation."
            )
        if credential is not None:
            credential.label = "New upstream credential"
            credential.help_text = (
                "Leave blank to keep the current credential; a new value rotates it "
                "(running gateways pick it up without a redeploy). Required when the upstream "
                "URL changes: the current credential is never sent to a new address."
            )
        if url is not None and not self.instance.template.upstream_url_editable:
            url.disabled = True
            url.help_text = "Fixed by the template."

    def write(self, data: dict[str, Any]) -> Provider:
        aws = {key: data[field] for field, key in AWS_CREDENTIAL_FIELDS.items() if data.get(field)}
        pool = [line.strip() for line in (data.get("credential_pool") or "").splitlines()]
        pool = [key for key in pool if key]
        if sum(bool(given) for given in (aws, pool, data.get("credential"))) > 1:
            message = "Give one of an API key, a key pool or AWS keys; not both."
            raise ValidationFailed(message, errors=[{"field": "credential", "message": message}])
        credential = aws or pool or data.get("credential")
        try:
            if self.adding:
                fields = self.changed(data, PROVIDER_FIELDS)
                for blank_means_template in ("inbound_key_name", "inbound_key_prefix"):
                    if not fields.get(blank_means_template):
                        fields.pop(blank_means_template, None)
                return services.provider_create(
                    template=data["template"], credential=credential or "", **fields
                )
            return services.provider_update(
                provider=self.instance,
                credential=credential or None,
                **self.changed(data, PROVIDER_FIELDS),
            )
        except DomainError as exc:
            if pool:  # a key's row shows on the pool, by line number, never by value
                exc.errors = [_pool_error(e) for e in exc.errors]
            if aws:  # the object's fields show on the form's fields for them
                fields = {
                    f"credential.{key}": field for field, key in AWS_CREDENTIAL_FIELDS.items()
                }
                exc.errors = [
                    {**e, "field": fields.get(e["field"], e["field"])} for e in exc.errors
                ]
            raise


def _pool_error(error: dict[str, str]) -> dict[str, str]:
    field = error.get("field") or ""
    if not field.startswith("credential"):
        return error
    index = field.removeprefix("credential").strip("[]")
    where = f"Line {int(index) + 1}: " if index.isdigit() else ""
    return {"field": "credential_pool", "message": where + error["message"]}


# --- proxies ---------------------------------------------------------------------------------


class ProxyForm(ServiceModelForm):
    """Proxies: the Proxy ID is generated by the service from the name and never changes."""

    provider = forms.ModelChoiceField(
        queryset=Provider.objects.order_by("-updated_at", "-id"),
        help_text="Defaults to the most recently updated provider.",
    )
    version = forms.CharField(initial="v1.0", help_text="v&lt;major&gt;.&lt;minor&gt;, e.g. v1.0.")
    context = forms.CharField(
        initial="/",
        required=False,
        help_text="Path after the Proxy ID in the invoke URL; '/' adds nothing.",
    )
    inbound_key_name = forms.CharField(
        label="Inbound key name",
        required=False,
        help_text="Blank inherits the provider's inbound key settings.",
    )
    inbound_key_prefix = _unstripped("Inbound key prefix")
    resources = ResourcesField(
        help_text="Resources this proxy exposes; empty exposes all of the provider's. "
        "One per line: METHOD /path."
    )

    class Meta(ServiceModelForm.Meta):
        model = Proxy
        fields = PROXY_FIELDS

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.adding and "provider" in self.fields and not self.initial.get("provider"):
            self.initial["provider"] = default_provider()

    def write(self, data: dict[str, Any]) -> Proxy:
        if self.adding:
            return services.proxy_create(**self.changed(data, PROXY_FIELDS))
        return services.proxy_update(proxy=self.instance, **self.changed(data, PROXY_FIELDS))


# --- API keys --------------------------------------------------------------------------------

API_KEY_DEFAULT_LIFETIME = timedelta(days=90)


class GenerateAPIKeyForm(forms.Form):
    """The key is minted on submit and shown in that response only."""

    name = forms.CharField(min_length=3, max_length=100)
    expires_at = forms.DateTimeField(
        label="Expires at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Suggested: 90 days from now. Clear it for a key that never expires.",
    )
    gateways = forms.ModelMultipleChoiceField(
        queryset=Gateway.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Gateways that accept this key; none selected means every gateway.",
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        expiry = timezone.localtime() + API_KEY_DEFAULT_LIFETIME
        self.fields["expires_at"].initial = expiry.replace(second=0, microsecond=0)

    def create(self, *, proxy: Proxy, user) -> str | None:
        """Mint the key; return its secret, or None with the service's refusal on the form."""
        try:
            self.api_key, secret = services.api_key_create(
                proxy=proxy,
                name=self.cleaned_data["name"],
                expires_at=self.cleaned_data.get("expires_at"),
                gateways=list(self.cleaned_data.get("gateways") or []),
                user=user,
            )
        except DomainError as exc:
            apply_domain_error(self, exc)
            return None
        return secret


class IssueManagementTokenForm(forms.Form):
    """The token is issued on submit and shown in that response only."""

    name = forms.CharField(max_length=100, required=False, help_text="e.g. the CI job using it.")
    expires_at = forms.DateTimeField(
        label="Expires at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=(
            f"Suggested: {services.MANAGEMENT_TOKEN_LIFETIME.days} days from now. "
            "Clear it for a token that never expires."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        expiry = timezone.localtime() + services.MANAGEMENT_TOKEN_LIFETIME
        self.fields["expires_at"].initial = expiry.replace(second=0, microsecond=0)

    def create(self, *, user) -> str | None:
        """Issue the token; return its secret, or None with the service's refusal on the form."""
        try:
            self.token, secret = services.management_token_create(
                user=user,
                name=self.cleaned_data["name"],
                expires_at=self.cleaned_data.get("expires_at"),
            )
        except DomainError as exc:
            apply_domain_error(self, exc)
            return None
        return secret


# --- signing in ------------------------------------------------------------------------------


class ThrottledAdminAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form, refusing attempts while their username or client address is
    locked out after too many failures (see ``proxies.signin_throttle``)."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        address = signin_throttle.client_address(self.request) if self.request else ""
        refusal = signin_throttle.signin_refusal(username=username, address=address)
        if refusal:
            raise ValidationError(refusal, code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError:
            signin_throttle.signin_failed(username=username, address=address)
            raise
        if self.user_cache is not None:
            signin_throttle.signin_succeeded(username=username)
        return cleaned

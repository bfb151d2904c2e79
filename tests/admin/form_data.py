"""What a browser posts for each admin form, and what the admin says back."""

import html


def provider_form(template, **overrides) -> dict:
    """Every field of the provider add form, as a browser would post it."""
    data = {
        "template": template.pk,
        "name": "Acme LLM",
        "version": "v1.0",
        "description": "",
        "upstream_url": "http://127.0.0.1:9/v1",
        "credential": "",
        "access_mode": "allow_all",
        "access_exceptions": "",
        "allowed_models": "",
        "inbound_key_in": "header",
        "inbound_key_name": "",
        "inbound_key_prefix": "",
        "connect_timeout": "10",
        "read_timeout": "120",
    }
    return {**data, **overrides}


def proxy_form(provider, **overrides) -> dict:
    data = {
        "name": "Support Bot",
        "provider": provider.pk,
        "version": "v1.0",
        "description": "",
        "context": "/",
        "inbound_key_in": "",
        "inbound_key_name": "",
        "inbound_key_prefix": "",
        "resources": "",
    }
    return {**data, **overrides}


def text_of(response) -> str:
    """The page as a reader sees it (entities decoded), for matching messages."""
    return html.unescape(response.content.decode())

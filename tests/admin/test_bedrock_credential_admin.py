"""AWS Bedrock providers in the admin: AWS keys in their own fields become the provider's
credential object; a wrong field is an error on that field."""

import json

import pytest
from django.urls import reverse

from proxies import crypto
from proxies.models import Provider
from tests.admin.form_data import provider_form, text_of
from tests.factories import ProviderFactory, template

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:proxies_provider_add")
BEDROCK_URL = "https://bedrock-runtime.us-east-1.amazonaws.com"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_FIELDS = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}


def bedrock_form(**overrides) -> dict:
    return provider_form(template("aws-bedrock"), upstream_url=BEDROCK_URL, **overrides)


def stored(provider: Provider) -> dict:
    return json.loads(crypto.decrypt(provider.credential_ciphertext))


def test_aws_keys_become_the_credential_object(admin_client):
    admin_client.post(ADD_URL, bedrock_form(**AWS_FIELDS, aws_role_arn=""))
    assert stored(Provider.objects.get(name="Acme LLM")) == AWS_FIELDS


def test_a_role_and_external_id_are_kept_in_the_object(admin_client):
    role = "arn:aws:iam::123456789012:role/invoke"
    admin_client.post(ADD_URL, bedrock_form(aws_role_arn=role, aws_external_id="ext-1"))
    assert stored(Provider.objects.get(name="Acme LLM")) == {
        "role_arn": role,
        "external_id": "ext-1",
    }


def test_a_secret_without_its_key_id_is_an_error_on_the_key_id_field(admin_client):
    response = admin_client.post(ADD_URL, bedrock_form(aws_secret_access_key=SECRET))
    form = response.context["adminform"].form
    assert "aws_access_key_id" in form.errors
    assert not Provider.objects.exists()


def test_an_api_key_and_aws_keys_together_are_refused(admin_client):
    response = admin_client.post(ADD_URL, bedrock_form(credential="ABSK-key", **AWS_FIELDS))
    assert "not both" in text_of(response)
    assert not Provider.objects.exists()


def test_the_change_page_offers_aws_fields_but_never_shows_the_secret(admin_client):
    provider = ProviderFactory(
        template="aws-bedrock", upstream_url=BEDROCK_URL, credential=AWS_FIELDS
    )
    page = admin_client.get(reverse("admin:proxies_provider_change", args=[provider.pk]))
    assert "AWS secret access key" in text_of(page)
    assert SECRET not in page.content.decode()


def test_other_providers_change_pages_have_no_aws_fields(admin_client):
    provider = ProviderFactory(template="openai-compatible")
    page = admin_client.get(reverse("admin:proxies_provider_change", args=[provider.pk]))
    assert "AWS secret access key" not in text_of(page)

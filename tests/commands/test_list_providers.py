import json

from tests.factories import ProviderFactory


def test_table_shows_id_name_template_upstream_and_credential_state(manage):
    provider = ProviderFactory(name="Local")
    out, _ = manage("list_providers")
    assert out.splitlines()[1].split()[:5] == [
        provider.slug,
        "Local",
        "openai-compatible",
        provider.upstream_url,
        "set",
    ]


def test_json_says_whether_a_credential_is_set(manage):
    with_key, without = ProviderFactory(), ProviderFactory(credential="")
    out, _ = manage("list_providers", "--json")
    assert {p["id"]: p["has_credential"] for p in json.loads(out)} == {
        with_key.slug: True,
        without.slug: False,
    }


def test_credential_is_never_printed(manage):
    ProviderFactory(credential="sk-very-secret")
    out, _ = manage("list_providers", "--json")
    assert "sk-very-secret" not in out

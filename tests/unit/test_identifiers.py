import pytest
from django.core.exceptions import ValidationError

from proxies.identifiers import normalize_context, slug_from_name


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Chat API", "chat-api"),
        ("  My__OpenAI  Proxy!! ", "my-openai-proxy"),
        ("A" * 60, "a" * 40),
        ("v1.0 / Support Bot", "v1-0-support-bot"),
    ],
)
def test_slug_lowercases_and_collapses_other_characters(name, slug):
    assert slug_from_name(name) == slug


def test_short_slug_is_padded_to_three_characters():
    slug = slug_from_name("X")
    assert slug.startswith("x-") and 3 <= len(slug) <= 40


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        (None, "/"),
        ("", "/"),
        ("/", "/"),
        ("chat", "/chat"),
        ("/chat/", "/chat"),
        ("//chat//v1//", "/chat/v1"),
    ],
)
def test_context_has_one_leading_slash_and_no_trailing_slash(raw, normalized):
    assert normalize_context(raw) == normalized


def test_context_with_forbidden_characters_is_rejected():
    with pytest.raises(ValidationError):
        normalize_context("/chat?x=1")

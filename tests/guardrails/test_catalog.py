from guardrails.registry import Phase, all_policies
from guardrails.selectors import catalog

CONTENT_GUARDRAILS = {
    "word-count-guardrail",
    "sentence-count-guardrail",
    "content-length-guardrail",
    "regex-guardrail",
    "json-schema-guardrail",
    "url-guardrail",
}


def test_the_catalog_lists_every_policy_of_this_release():
    names = {p["name"] for p in catalog()}
    assert names >= CONTENT_GUARDRAILS | {
        "pii-masking-regex",
        "prompt-decorator",
        "prompt-template",
    }


def test_every_response_policy_declares_how_it_judges_streams():
    for policy in all_policies():
        if Phase.RESPONSE in policy.phases:
            assert policy.describe()["stream_mode"] in {"chunk", "window", "end"}


def test_rarely_used_settings_are_flagged_advanced():
    schema = next(p for p in catalog() if p["name"] == "regex-guardrail")["parameters_schema"]
    request = schema["properties"]["request"]["properties"]
    assert request["jsonPath"]["x-advanced"] is True
    assert "x-advanced" not in request["regex"]


def test_content_guardrails_have_request_and_response_sections():
    for policy in catalog():
        if policy["name"] in CONTENT_GUARDRAILS:
            assert set(policy["parameters_schema"]["properties"]) == {"request", "response"}

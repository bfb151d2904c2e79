import pytest

from guardrails.engine import compile_chain
from guardrails.limits import compile_limits
from guardrails.registry import ParameterError, get_policy
from guardrails.selectors import catalog

REQUESTS = "basic-ratelimit"
TOKENS = "token-based-ratelimit"
COST = "llm-cost-based-ratelimit"


def validate(name: str, params: dict) -> dict:
    return get_policy(name).validate_params(params)


def fields_of(name: str, params: dict) -> list[str]:
    with pytest.raises(ParameterError) as caught:
        validate(name, params)
    return [e["field"] for e in caught.value.errors]


def test_the_catalog_lists_the_three_limit_kinds_as_rate_limits():
    kinds = {p["name"]: p["category"] for p in catalog() if p["category"] == "ratelimit"}
    assert set(kinds) == {REQUESTS, TOKENS, COST}


def test_request_limits_default_to_shared_fail_open_one_minute_windows():
    params = validate(REQUESTS, {"limits": [{"requests": 5}]})
    assert (params["scope"], params["failureMode"], params["limits"][0]) == (
        "shared",
        "open",
        {"requests": 5, "duration": 1, "unit": "minute"},
    )


def test_cost_budgets_default_to_fail_closed_monthly_windows():
    params = validate(COST, {"budgetLimits": [{"amount": 10}]})
    assert (params["failureMode"], params["budgetLimits"][0]["unit"]) == ("closed", "month")


def test_a_token_limit_needs_at_least_one_category():
    assert fields_of(TOKENS, {}) == ["params"]


def test_an_unknown_window_unit_is_refused():
    assert fields_of(REQUESTS, {"limits": [{"requests": 1, "unit": "fortnight"}]}) == [
        "params.limits.0.unit"
    ]


def test_resource_overrides_need_per_resource_counting():
    params = {"limits": [{"requests": 1}], "resources": [{"resource": "/chat/completions"}]}
    assert "params.perResource" in fields_of(REQUESTS, params)


def test_a_resource_listed_twice_is_refused():
    row = {"resource": "POST /chat/completions", "limits": [{"requests": 1}]}
    params = {"limits": [{"requests": 1}], "perResource": True, "resources": [row, row]}
    assert fields_of(REQUESTS, params) == ["params.resources.1.resource"]


def test_a_resource_is_a_method_and_a_path():
    row = {"resource": "chat completions", "limits": [{"requests": 1}]}
    params = {"limits": [{"requests": 1}], "perResource": True, "resources": [row]}
    assert fields_of(REQUESTS, params) == ["params.resources.0.resource"]


def test_the_guardrail_chain_leaves_limits_to_the_limiter():
    attachment = {"id": 1, "policy": REQUESTS, "params": {"limits": [{"requests": 1}]}}
    assert not compile_chain([attachment], [])


def test_compiled_limits_ignore_guardrails():
    guardrail = {"id": 1, "policy": "word-count-guardrail", "params": {"request": {"max": 5}}}
    assert not compile_limits([guardrail], [])


def test_proxy_and_provider_limits_are_both_enforced():
    proxy = [{"id": 1, "policy": REQUESTS, "params": {"limits": [{"requests": 1}]}}]
    provider = [{"id": 2, "policy": TOKENS, "params": {"totalTokenLimits": [{"count": 9}]}}]
    pairs = compile_limits(proxy, provider).resolve("POST /chat/completions")
    assert [counter.label for counter, _ in pairs] == [
        "basic-ratelimit 1 requests/1m",
        "token-based-ratelimit 9 total tokens/1m",
    ]

"""The routing policies' parameters: defaults of the reference's v1, and what the schema
cannot say."""

import pytest

from guardrails.engine import compile_chain
from guardrails.registry import ParameterError, get_policy
from guardrails.selectors import catalog

ROUND_ROBIN = get_policy("model-round-robin")
WEIGHTED = get_policy("model-weighted-round-robin")
FAILOVER = get_policy("provider-failover")


def errors_of(policy, params) -> list[dict[str, str]]:
    with pytest.raises(ParameterError) as caught:
        policy.validate_params(params)
    return caught.value.errors


def test_the_catalog_lists_the_routing_policies_in_their_own_category():
    routing = {p["name"] for p in catalog() if p["category"] == "routing"}
    assert routing == {"model-round-robin", "model-weighted-round-robin", "provider-failover"}


def test_routing_policies_have_no_phases_so_the_guardrail_chain_skips_them():
    rows = [
        {"id": 1, "policy": "model-round-robin", "params": {"models": [{"model": "a"}]}},
        {"id": 2, "policy": "provider-failover", "params": {"targets": [{"provider": "b"}]}},
    ]
    assert not compile_chain(rows, [])


def test_round_robin_suspends_for_thirty_seconds_by_default():
    params = ROUND_ROBIN.validate_params({"models": [{"model": "a"}, {"model": "b"}]})
    assert params["suspendDuration"] == 30


def test_round_robin_needs_at_least_one_model():
    assert errors_of(ROUND_ROBIN, {"models": []})[0]["field"] == "params.models"


def test_a_model_listed_twice_is_refused_on_its_row():
    errors = errors_of(ROUND_ROBIN, {"models": [{"model": "a"}, {"model": "a"}]})
    assert errors == [{"field": "params.models.1.model", "message": "'a' is listed twice."}]


def test_a_sticky_header_needs_its_name():
    errors = errors_of(
        ROUND_ROBIN, {"models": [{"model": "a"}], "stickyKey": {"location": "header"}}
    )
    assert [e["field"] for e in errors] == ["params.stickyKey.identifier"]


def test_a_sticky_ip_needs_no_name():
    params = ROUND_ROBIN.validate_params(
        {"models": [{"model": "a"}], "stickyKey": {"location": "ip"}}
    )
    assert params["stickyKey"] == {"location": "ip", "fallbackToAuth": False, "fallbackToIP": False}


def test_weighted_round_robin_refuses_a_weight_below_one():
    errors = errors_of(WEIGHTED, {"models": [{"model": "a", "weight": 0}]})
    assert errors[0]["field"] == "params.models.0.weight"


def test_failover_defaults_follow_the_contract():
    params = FAILOVER.validate_params({"targets": [{"provider": "backup"}]})
    assert params == {
        "targets": [{"provider": "backup"}],
        "retryOn": ["429", "5xx", "connect", "timeout"],
        "maxAttempts": 3,
        "backoff": {"initialMs": 100, "maxMs": 2000},
        "deadlineSeconds": 60,
        "circuitBreaker": {
            "enabled": True,
            "failureThreshold": 5,
            "cooldownSeconds": 30,
            "shared": True,
        },
    }


def test_failover_takes_at_most_ten_targets():
    targets = [{"provider": f"p{i}"} for i in range(11)]
    assert errors_of(FAILOVER, {"targets": targets})[0]["field"] == "params.targets"


def test_failover_refuses_an_unknown_retry_reason():
    errors = errors_of(FAILOVER, {"targets": [{"provider": "b"}], "retryOn": ["4xx"]})
    assert errors[0]["field"] == "params.retryOn.0"


def test_failover_attempts_are_between_one_and_ten():
    errors = errors_of(FAILOVER, {"targets": [{"provider": "b"}], "maxAttempts": 11})
    assert errors[0]["field"] == "params.maxAttempts"


def test_the_same_target_twice_is_refused():
    targets = [{"provider": "b", "model": "m"}, {"provider": "b", "model": "m"}]
    errors = errors_of(FAILOVER, {"targets": targets})
    assert errors == [{"field": "params.targets.1.provider", "message": "'b/m' is listed twice."}]


def test_one_provider_with_two_models_is_two_targets():
    targets = [{"provider": "b", "model": "m"}, {"provider": "b", "model": "n"}]
    assert FAILOVER.validate_params({"targets": targets})["targets"] == targets


def test_a_backoff_whose_longest_wait_is_shorter_than_its_first_is_refused():
    params = {"targets": [{"provider": "b"}], "backoff": {"initialMs": 500, "maxMs": 100}}
    assert [e["field"] for e in errors_of(FAILOVER, params)] == ["params.backoff.maxMs"]

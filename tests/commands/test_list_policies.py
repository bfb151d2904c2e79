import json

import pytest
from django.core.management.base import CommandError


def test_lists_the_catalog(manage):
    out, _ = manage("list_policies")
    assert "word-count-guardrail" in out


def test_json_holds_each_policy_with_its_schema(manage):
    out, _ = manage("list_policies", "--json")
    policy = next(p for p in json.loads(out) if p["name"] == "word-count-guardrail")
    assert "request" in policy["parameters_schema"]["properties"]


def test_schema_of_one_policy(manage):
    out, _ = manage("list_policies", "--schema", "word-count-guardrail")
    assert json.loads(out)["type"] == "object"


def test_schema_of_an_unknown_policy_is_an_error(manage):
    with pytest.raises(CommandError, match="No policy named 'nope'"):
        manage("list_policies", "--schema", "nope")

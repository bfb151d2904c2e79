"""Policy parameter forms generated from JSON schemas, and posted values read back."""

from guardrails.registry import get_policy
from guardrails.schema_form import error_field, params_from_post, schema_fields

WORD_COUNT = get_policy("word-count-guardrail").parameters_schema
PII = get_policy("pii-masking-regex").parameters_schema


def test_nested_sections_become_groups():
    group = schema_fields(WORD_COUNT)

    assert [g["title"] for g in group["groups"]] == ["Request", "Response"]


def test_defaults_fill_a_new_form():
    fields = schema_fields(WORD_COUNT)["groups"][0]["fields"]

    assert {f["name"]: f["value"] for f in fields}["p.request.min"] == 0


def test_blank_inputs_are_left_out_so_defaults_apply():
    params, _ = params_from_post(WORD_COUNT, {"p.request.enabled": "on", "p.request.min": ""})

    assert "min" not in params["request"]


def test_unchecked_boxes_are_false():
    params, _ = params_from_post(PII, {"p.email": "on"})

    assert (params["email"], params["phone"]) == (True, False)


def test_list_of_objects_is_read_as_json():
    params, _ = params_from_post(PII, {"p.customPIIEntities": '[{"name": "ID"}]'})

    assert params["customPIIEntities"] == [{"name": "ID"}]


def test_service_error_paths_map_to_input_names():
    assert error_field("params.request.max") == "p.request.max"

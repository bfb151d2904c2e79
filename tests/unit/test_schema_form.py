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


ROUND_ROBIN = get_policy("model-round-robin").parameters_schema
FAILOVER = get_policy("provider-failover").parameters_schema


def test_a_list_of_short_names_flagged_as_a_table_becomes_rows_of_text_inputs():
    field = schema_fields(ROUND_ROBIN)["fields"][0]

    assert (field["kind"], field["rows"][0][0]["kind"]) == ("rows", "text")


def test_table_rows_of_names_are_read_back_in_order():
    posted = {"p.models.0.model": "gpt-4o", "p.models.1.model": "", "p.models.2.model": "o3"}

    params, _ = params_from_post(ROUND_ROBIN, posted)

    assert params["models"] == [{"model": "gpt-4o"}, {"model": "o3"}]


def test_a_list_of_choices_becomes_checkboxes_with_the_defaults_ticked():
    field = next(f for f in schema_fields(FAILOVER)["fields"] if f["name"] == "p.retryOn")

    assert (field["kind"], field["selected"]) == ("choices", ["429", "5xx", "connect", "timeout"])


def test_ticked_choices_are_read_back_in_the_schemas_order():
    params, _ = params_from_post(FAILOVER, {"p.retryOn": ["timeout", "429"]})

    assert params["retryOn"] == ["429", "timeout"]


def test_sections_flagged_advanced_sit_under_advanced_settings():
    group = schema_fields(FAILOVER)

    assert [g["name"] for g in group["advanced_groups"]] == ["p.backoff", "p.circuitBreaker"]


def test_a_section_with_defaults_switched_off_is_sent_switched_off():
    params, _ = params_from_post(FAILOVER, {"p.circuitBreaker.failureThreshold": "5"})

    assert params["circuitBreaker"]["enabled"] is False


def test_an_optional_section_left_at_its_first_choice_is_not_sent():
    params, _ = params_from_post(ROUND_ROBIN, {"p.stickyKey.location": "header"})

    assert "stickyKey" not in params


def test_an_optional_section_with_another_choice_made_is_sent():
    params, _ = params_from_post(ROUND_ROBIN, {"p.stickyKey.location": "ip"})

    assert params["stickyKey"]["location"] == "ip"

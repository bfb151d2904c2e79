import pytest

from guardrails.jsonpath import InvalidJSONPath, PathProblem, compile_path

BODY = {
    "model": "m",
    "messages": [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hello"},
    ],
}


def test_a_negative_index_selects_from_the_end():
    assert compile_path("$.messages[-1].content").text(BODY) == "hello"


def test_a_bracketed_name_selects_like_a_dotted_one():
    assert compile_path("$['messages'][0]['content']").text(BODY) == "be nice"


def test_a_wildcard_joins_every_match_with_newlines():
    assert compile_path("$.messages[*].content").text(BODY) == "be nice\nhello"


def test_a_filter_expression_works_through_the_library():
    assert compile_path("$.messages[?@.role == 'user'].content").text(BODY) == "hello"


@pytest.mark.parametrize("expression", ["", "$"])
def test_the_root_reads_as_the_whole_body(expression):
    assert compile_path(expression).text({"a": 1}) == '{"a":1}'


def test_an_index_past_the_end_finds_nothing():
    with pytest.raises(PathProblem, match="No value found"):
        compile_path("$.messages[-3].content").text(BODY)


def test_an_index_on_an_object_finds_nothing():
    assert compile_path("$.model[0]").find(BODY) == []


def test_an_invalid_expression_is_reported():
    with pytest.raises(InvalidJSONPath, match="Invalid JSONPath"):
        compile_path("$.messages[")


def test_a_match_can_be_replaced_in_place():
    body = {"messages": [{"content": "a"}, {"content": "b"}]}
    compile_path("$.messages[-1].content").find(body)[0].replace("z")
    assert body["messages"][1]["content"] == "z"

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


def test_the_place_of_a_value_is_where_the_library_finds_it():
    import random

    import jsonpath

    # The library itself, set up as the gateway documents (RFC 9535, strict).
    library = jsonpath.JSONPathEnvironment(strict=True)
    rng = random.Random(3)

    def value(depth: int):
        kind = rng.randrange(6 if depth else 3)
        if kind == 0:
            return "xy"
        if kind == 1:
            return 5
        if kind == 2:
            return None
        if kind == 3:
            return {name: value(depth - 1) for name in "ab" if rng.random() < 0.8}
        return [value(depth - 1) for _ in range(rng.randrange(3))]

    steps = ["a", "b", 0, 1, -1, -3]
    for _ in range(3000):
        body = value(3)
        path = [rng.choice(steps) for _ in range(rng.randint(1, 3))]
        expression = "$" + "".join(f".{s}" if isinstance(s, str) else f"[{s}]" for s in path)
        found = [m.obj for m in library.compile(expression).finditer(body)]
        place = compile_path(expression).place(body)
        if place is None:
            assert found == [], (expression, body)
        else:
            container, key = place
            assert found == [container[key]], (expression, body)
            assert found[0] is container[key]

"""A pipe's InputTemplate: JSON paths into parsed bodies, variables, and text versus JSON placement."""

from __future__ import annotations

import json

import pytest

from cumulo.services.pipes.templates import TemplateError, render

RECORD = {"messageId": "m-1", "body": json.dumps({"order": {"id": 7, "items": ["a", "b"]}, "note": 'say "hi"'})}
VARIABLES = {"aws.pipes.pipe-name": "p"}


def test_paths_reach_into_a_json_body_and_keep_their_type_outside_strings():
    rendered = render('{"id": <$.body.order.id>, "first": <$.body.order.items[0]>, "all": <$.body.order.items>}',
                      RECORD, VARIABLES)
    assert json.loads(rendered) == {"id": 7, "first": "a", "all": ["a", "b"]}


def test_values_inside_strings_become_escaped_text():
    rendered = render('{"text": "order <$.body.order.id> from <aws.pipes.pipe-name>: <$.body.note>"}', RECORD,
                      VARIABLES)
    assert json.loads(rendered) == {"text": 'order 7 from p: say "hi"'}


def test_whole_event_variables_and_missing_paths():
    rendered = json.loads(render('{"e": <aws.pipes.event.json>, "s": "<aws.pipes.event>", "x": <$.nope>}',
                                 RECORD, VARIABLES))
    assert rendered["e"] == RECORD and json.loads(rendered["s"]) == RECORD and rendered["x"] is None


def test_an_unknown_variable_is_an_error():
    with pytest.raises(TemplateError):
        render("<aws.pipes.nothing>", RECORD, VARIABLES)

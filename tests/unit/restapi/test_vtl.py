"""Velocity mapping templates with API Gateway's variables, as AWS documents their results."""

from __future__ import annotations

import json

import pytest

from cumulo.restapi.vtl import TemplateError, render

PARAMS = {"path": {"id": "7"}, "querystring": {"q": "x y"}, "header": {"X-Trace": "t-1"}}
BODY = '{"name": "Ann \\"A\\"", "items": [{"sku": "a", "n": 1}, {"sku": "b", "n": 2}], "nested": {"k": true}}'


def run(template: str, body: str = BODY, context: dict | None = None, variables: dict | None = None) -> str:
    return render(template, body, PARAMS, context or {"requestId": "r-1", "stage": "prod"}, variables or {})


def test_input_json_and_path():
    assert json.loads(run("$input.json('$')")) == json.loads(BODY)
    assert run("$input.json('$.items[1].sku')") == '"b"'
    assert run("$input.json('$.nested')") == '{"k":true}'
    assert run("$input.path('$.items').size()") == "2"
    assert run("$input.path('$.items[0].n')") == "1"
    assert run("$input.json('$.missing')") == ""


def test_input_params():
    assert run("$input.params('id')/$input.params('q')/$input.params('x-trace')") == "7/x y/t-1"
    assert run("$input.params().path.id") == "7"
    assert run("$input.params('absent')") == ""


def test_util_functions():
    assert run("$util.escapeJavaScript($input.path('$.name'))") == 'Ann \\"A\\"'
    assert run("$util.urlEncode('a b&c')") == "a+b%26c"
    assert run("$util.urlDecode('a+b%26c')") == "a b&c"
    assert run("$util.base64Encode('hi')") == "aGk="
    assert run("$util.base64Decode('aGk=')") == "hi"
    assert run("#set($o = $util.parseJson('{\"a\": 5}'))$o.a") == "5"


def test_foreach_context_and_stage_variables():
    template = '[#foreach($item in $input.path(\'$.items\'))"$item.sku"#if($foreach.hasNext),#end#end]'
    assert json.loads(run(template)) == ["a", "b"]
    assert run("$context.requestId $context.stage $stageVariables.color", variables={"color": "blue"}) == \
        "r-1 prod blue"


def test_body_that_is_not_json():
    assert run("$input.body", body="a=1&b=2") == "a=1&b=2"
    assert run("$input.json('$')", body="plain") == "plain"


def test_errors_are_template_errors():
    with pytest.raises(TemplateError):
        run("#if($x")
    with pytest.raises(TemplateError):
        run("$util.parseJson('{broken')")

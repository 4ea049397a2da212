"""Template scalars become the types the API model declares, as CloudFormation converts them."""

from __future__ import annotations

import botocore.session
import pytest

from cumulo.services.cloudformation.coercion import CoercionError, coerce

LAMBDA = botocore.session.get_session().get_service_model("lambda")
CREATE_FUNCTION = LAMBDA.operation_model("CreateFunction").input_shape


def test_strings_get_the_text_of_numbers_and_booleans():
    params = {"FunctionName": "f", "Environment": {"Variables": {
        "Port": 1234, "Ratio": 1.5, "Whole": 2.0, "On": True, "Off": False, "Text": "x"}}}
    assert coerce(CREATE_FUNCTION, params)["Environment"]["Variables"] == {
        "Port": "1234", "Ratio": "1.5", "Whole": "2", "On": "true", "Off": "false", "Text": "x"}


def test_numbers_and_booleans_from_strings():
    params = {"Timeout": "30", "MemorySize": 256.0, "Publish": "True", "SnapStart": {"ApplyOn": "None"}}
    assert coerce(CREATE_FUNCTION, params) == {"Timeout": 30, "MemorySize": 256, "Publish": True,
                                               "SnapStart": {"ApplyOn": "None"}}


def test_blobs_lists_and_unknown_members_pass_through():
    params = {"Code": {"ZipFile": b"PK"}, "Layers": ["arn:a", "arn:b"], "Extra": {"kept": 1}}
    assert coerce(CREATE_FUNCTION, params) == params


@pytest.mark.parametrize(("params", "message"), [
    ({"Timeout": "soon"}, "#/Timeout: expected type: Integer, found: String"),
    ({"Timeout": 1.5}, "#/Timeout: expected type: Integer, found: Number"),
    ({"Environment": {"Variables": {"A": {"nested": 1}}}},
     "#/Environment/Variables/A: expected type: String, found: JSONObject"),
    ({"Environment": "A=1"}, "#/Environment: expected type: JSONObject, found: String"),
    ({"Layers": "arn:a"}, "#/Layers: expected type: JSONArray, found: String"),
    ({"Publish": "yes"}, "#/Publish: expected type: Boolean, found: String"),
])
def test_values_that_do_not_fit_are_errors(params, message):
    with pytest.raises(CoercionError, match=f"^{message}$"):
        coerce(CREATE_FUNCTION, params)

"""Request validation of REST API methods: required request parameters (``validateRequestParameters``)
and the body against the method's request model, a JSON schema (``validateRequestBody``).
Answers (response type, message) for the 400 gateway response, or None when the request passes."""

from __future__ import annotations

import json
from typing import Any

from cumulo.restapi.call import RestCall


def validate(call: RestCall, method: dict[str, Any], validator: dict[str, Any],
             models: dict[str, dict[str, Any]]) -> tuple[str, str] | None:
    if validator.get("validateRequestParameters"):
        params = call.params()
        missing = []
        for name, required in (method.get("requestParameters") or {}).items():
            if not required:
                continue
            _, _, place, key = name.split(".", 3)
            values = params.get(place, {})
            present = any(k.lower() == key.lower() for k in values) if place == "header" else bool(values.get(key))
            if not present:
                missing.append(key)
        if missing:
            return "BAD_REQUEST_PARAMETERS", f"Missing required request parameters: [{', '.join(missing)}]"
    if validator.get("validateRequestBody"):
        import jsonschema  # imported on first use: it costs a third of a second at start-up

        content_type = (call.header("content-type") or "application/json").split(";", 1)[0].strip().lower()
        request_models = method.get("requestModels") or {}
        name = request_models.get(content_type) or request_models.get("$default")
        model = models.get(name or "")
        if model and model.get("schema") and name != "Empty":
            try:
                schema = json.loads(model["schema"])
                document = json.loads(call.request.body or b"null")
                jsonschema.validate(document, schema)
            except (ValueError, jsonschema.ValidationError) as error:
                detail = error.message if isinstance(error, jsonschema.ValidationError) else "body is not JSON"
                return "BAD_REQUEST_BODY", f"Invalid request body: [{detail}]"
    return None

"""Building and checking a function's configuration (FunctionConfiguration) from API input."""

from __future__ import annotations

import datetime as dt
import json
import platform
import uuid
from typing import Any

from cumulo.protocol.errors import AwsError
from cumulo.runtime.envvars import RESERVED
from cumulo.services.lambda_.runtimes import substitution_warning, unsupported_reason
from cumulo.settings import Settings

DEFAULT_MEMORY_MB = 128
DEFAULT_TIMEOUT_S = 3
MAX_TIMEOUT_S = 900
MAX_MEMORY_MB = 10240  # the model allows more (managed capacity); on-demand functions stop here
DEFAULT_EPHEMERAL_MB = 512
MAX_ENVIRONMENT_BYTES = 4096
MAX_LAYERS = 5
# Members of UpdateFunctionConfiguration that are copied into the configuration as given.
PLAIN_MEMBERS = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Runtime", "KMSKeyArn",
                 "VpcConfig", "DeadLetterConfig", "TracingConfig", "FileSystemConfigs",
                 "EphemeralStorage", "LoggingConfig", "SnapStart", "ImageConfig")
# DurableConfig defaults (AWS keeps execution history 14 days unless told otherwise)
DEFAULT_RETENTION_DAYS = 14
DEFAULT_EXECUTION_TIMEOUT_S = 86400


# Lambda's name for the host's instruction set: functions run natively on it, whatever they ask for.
HOST_ARCHITECTURE = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(
    platform.machine().lower(), platform.machine().lower())


def architecture_mismatch(config: dict[str, Any]) -> str | None:
    """What to tell the user when a function asks for an instruction set the host does not have."""
    wanted = (config.get("Architectures") or ["x86_64"])[0]
    if wanted == HOST_ARCHITECTURE:
        return None
    return (f"function {config['FunctionName']} is configured for {wanted}, but this host is {HOST_ARCHITECTURE}: "
            f"Cumulo runs it on {HOST_ARCHITECTURE} (Python, Node.js and Java code runs unchanged; native "
            f"binaries or dependencies built only for {wanted} fail to load)")


def timestamp_now() -> str:
    """Lambda's LastModified format: ``2024-05-01T12:00:00.000+0000``."""
    now = dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


def check_runtime(runtime: str | None, package_type: str, settings: Settings) -> str | None:
    """Refuse a runtime the host cannot run; returns the warning to log when it runs on a substitute."""
    if package_type != "Zip":
        return None
    if not runtime:
        raise AwsError("InvalidParameterValueException", "Runtime is required for Zip package type.")
    reason = unsupported_reason(runtime, settings)
    if reason:
        raise AwsError("InvalidParameterValueException", reason)
    return substitution_warning(runtime, settings)


def check_environment(environment: dict[str, Any] | None) -> None:
    variables = (environment or {}).get("Variables") or {}
    reserved = sorted(k for k in variables if k in RESERVED)
    if reserved:
        raise AwsError("InvalidParameterValueException",
                       "Lambda was unable to configure your environment variables because the environment "
                       "variables you have provided contains reserved keys that are currently not supported "
                       f"for modification. Reserved keys used in this request: {', '.join(reserved)}")
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
        raise AwsError("InvalidParameterValueException",
                       "Lambda was unable to configure your environment variables because the environment "
                       "variables you have provided exceeded the 4KB limit. String measured: " + measured)


def check_limits(config: dict[str, Any]) -> None:
    timeout = config.get("Timeout", DEFAULT_TIMEOUT_S)
    if timeout > MAX_TIMEOUT_S:
        raise AwsError("ValidationException",
                       f"1 validation error detected: Value '{timeout}' at 'timeout' failed to satisfy "
                       f"constraint: Member must have value less than or equal to {MAX_TIMEOUT_S}")
    memory = config.get("MemorySize", DEFAULT_MEMORY_MB)
    if memory > MAX_MEMORY_MB:
        raise AwsError("ValidationException",
                       f"1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy "
                       f"constraint: Member must have value less than or equal to {MAX_MEMORY_MB}")
    if config.get("PackageType", "Zip") == "Zip" and not config.get("Handler"):
        raise AwsError("InvalidParameterValueException", "Handler is required for Zip package type.")
    architectures = config.get("Architectures") or ["x86_64"]
    if len(architectures) != 1:
        raise AwsError("ValidationException",
                       "1 validation error detected: Value at 'architectures' failed to satisfy constraint: "
                       "Member must have length less than or equal to 1")


def base_configuration(params: dict[str, Any], name: str, arn: str) -> dict[str, Any]:
    """The $LATEST configuration for CreateFunction input (code fields are added by the caller)."""
    package_type = params.get("PackageType") or "Zip"
    config: dict[str, Any] = {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": params.get("Runtime"),
        "Role": params["Role"],
        "Handler": params.get("Handler"),
        "Description": params.get("Description") or "",
        "Timeout": params.get("Timeout") or DEFAULT_TIMEOUT_S,
        "MemorySize": params.get("MemorySize") or DEFAULT_MEMORY_MB,
        "Version": "$LATEST",
        "TracingConfig": params.get("TracingConfig") or {"Mode": "PassThrough"},
        "PackageType": package_type,
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": params.get("EphemeralStorage") or {"Size": DEFAULT_EPHEMERAL_MB},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}",
                          **(params.get("LoggingConfig") or {})},
    }
    for member in ("Environment", "VpcConfig", "DeadLetterConfig", "KMSKeyArn", "FileSystemConfigs",
                   "ImageConfig"):
        if params.get(member):
            config[member] = params[member]
    if params.get("SnapStart"):
        config["SnapStart"] = {"ApplyOn": params["SnapStart"].get("ApplyOn", "None"),
                               "OptimizationStatus": "Off"}
    if params.get("DurableConfig") is not None:
        config["DurableConfig"] = durable_config(params["DurableConfig"])
    return {k: v for k, v in config.items() if v is not None}


def apply_update(config: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with UpdateFunctionConfiguration's members applied."""
    updated = dict(config)
    for member in PLAIN_MEMBERS:
        if member in params and params[member] is not None:
            updated[member] = params[member]
    if "Environment" in params and params["Environment"] is not None:
        if params["Environment"].get("Variables"):
            updated["Environment"] = {"Variables": params["Environment"]["Variables"]}
        else:
            updated.pop("Environment", None)
    if "SnapStart" in params and params["SnapStart"] is not None:
        updated["SnapStart"] = {"ApplyOn": params["SnapStart"].get("ApplyOn", "None"),
                                "OptimizationStatus": "Off"}
    if params.get("DurableConfig") is not None:
        if "DurableConfig" not in config:
            raise AwsError("InvalidParameterValueException",
                           "DurableConfig can only be set when the function is created.")
        updated["DurableConfig"] = durable_config({**config["DurableConfig"], **params["DurableConfig"]})
    if "LoggingConfig" in params and params["LoggingConfig"] is not None:
        updated["LoggingConfig"] = {**config.get("LoggingConfig", {}), **params["LoggingConfig"]}
    return updated


def durable_config(given: dict[str, Any]) -> dict[str, Any]:
    """DurableConfig with AWS's defaults filled in (the model has already checked the ranges)."""
    return {"ExecutionTimeout": given.get("ExecutionTimeout") or DEFAULT_EXECUTION_TIMEOUT_S,
            "RetentionPeriodInDays": given.get("RetentionPeriodInDays") or DEFAULT_RETENTION_DAYS}

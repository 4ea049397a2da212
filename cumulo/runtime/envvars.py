"""The environment variables a function sees, as AWS sets them.

User variables (the function's Environment) override only what AWS lets them override:
the keys in :data:`RESERVED` are always the platform's.
"""

from __future__ import annotations

from .runtimes import RuntimePlan
from .spec import Credentials, EnvironmentSpec

# AWS's reserved keys: a function configuration cannot set these.
RESERVED = frozenset({
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
})


def build(spec: EnvironmentSpec, plan: RuntimePlan, credentials: Credentials, log_stream: str, task_root: str,
          runtime_dir: str, opt_dir: str, tmp_dir: str | None) -> dict[str, str]:
    """The runtime process's environment (AWS_LAMBDA_RUNTIME_API is added by the agent)."""
    access_key, secret_key, session_token = credentials
    env = {
        "PATH": f"/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:{opt_dir}/bin",
        "LD_LIBRARY_PATH": f"/var/lang/lib:/lib64:/usr/lib64:{runtime_dir}:{runtime_dir}/lib:"
                           f"{task_root}:{task_root}/lib:{opt_dir}/lib",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
    }
    if plan.kind == "python":
        env["PYTHONPATH"] = runtime_dir
    elif plan.kind == "node":
        major = plan.runtime[len("nodejs"):].split(".")[0]
        env["NODE_PATH"] = (f"{opt_dir}/nodejs/node{major}/node_modules:{opt_dir}/nodejs/node_modules:"
                            f"{runtime_dir}/node_modules:{runtime_dir}:{task_root}")
    elif plan.kind == "ruby":  # AWS's load and gem paths, for the Ruby version that runs
        gems = plan.runs_as[len("ruby"):] + ".0"
        env["RUBYLIB"] = f"{task_root}:{task_root}/lib:{runtime_dir}/lib:{opt_dir}/ruby/lib"
        env["GEM_PATH"] = f"{task_root}/vendor/bundle/ruby/{gems}:{opt_dir}/ruby/gems/{gems}"
    if spec.endpoint_url:
        env["AWS_ENDPOINT_URL"] = spec.endpoint_url
    if tmp_dir:
        env["TMPDIR"] = tmp_dir
    # The function's user has no home directory of its own (AWS's sandbox user's is /tmp); without
    # HOME, libraries that look for ~/.aws (the AWS SDK for JavaScript) fail. The function may set its own.
    env["HOME"] = tmp_dir or "/tmp"
    env.update({k: v for k, v in spec.environment.items() if k not in RESERVED})
    env.update({
        "_HANDLER": spec.handler,
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": spec.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": spec.initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret_key,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
    })
    if session_token:
        env["AWS_SESSION_TOKEN"] = session_token
    if plan.execution_env:
        env["AWS_EXECUTION_ENV"] = plan.execution_env
    return env

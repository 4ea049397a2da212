"""ruby3.x functions run by Cumulo's Ruby runtime on the host's Ruby (real server); skipped without Ruby."""

from __future__ import annotations

import json
import shutil
import textwrap
import uuid

import pytest

from cumulo.runtime.discovery import installations
from tests.conftest import make_zip
from tests.server import CumuloServer, wait_for

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
RUBIES = installations("ruby", None)
pytestmark = pytest.mark.skipif(shutil.which("ruby") is None or not RUBIES,
                                reason="no Ruby on this host (apt-get install ruby, rbenv or asdf)")
HOST_RUBY = "{}.{}".format(*RUBIES[0].version[:2]) if RUBIES else ""
# The host's Ruby as an AWS runtime id when AWS offers it, else the oldest one (run on the host's Ruby).
RUNTIME = f"ruby{HOST_RUBY}" if HOST_RUBY in ("3.2", "3.3", "3.4") else "ruby3.2"
APP = """
    require 'json'

    def lambda_handler(event:, context:)
      puts "handling #{event['name']}"
      { 'greeting' => "hello #{event['name']}", 'request' => context.aws_request_id,
        'function' => context.function_name, 'remaining' => context.get_remaining_time_in_millis,
        'ruby' => RUBY_VERSION }
    end

    module Shop
      class Orders
        def self.total(event:, context:)
          event['items'].sum { |item| item['price'] * item['quantity'] }
        end

        def self.fail(event:, context:)
          raise ArgumentError, 'no such order'
        end
      end
    end
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    instance = CumuloServer(tmp_path_factory.mktemp("ruby") / "data").start()
    yield instance
    instance.stop()


def create(client, handler: str, runtime: str = RUNTIME) -> str:
    name = f"rb-{uuid.uuid4().hex[:10]}"
    client.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Handler=handler, Timeout=10,
                           Code={"ZipFile": make_zip({"app.rb": textwrap.dedent(APP).lstrip()})})
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 400})
    return name


def invoke(client, name: str, event: object) -> tuple[dict, object]:
    response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read())


def test_top_level_method_gets_event_and_context(server):
    client = server.client("lambda")
    name = create(client, "app.lambda_handler")
    response, payload = invoke(client, name, {"name": "ruby"})
    assert "FunctionError" not in response, payload
    assert payload["greeting"] == "hello ruby" and payload["function"] == name
    assert payload["request"] == response["ResponseMetadata"]["RequestId"]
    assert 0 < payload["remaining"] <= 10000
    assert payload["ruby"].startswith(HOST_RUBY)


def test_class_method_handler_and_errors_in_aws_ruby_shape(server):
    client = server.client("lambda")
    name = create(client, "app.Shop::Orders.total")
    response, payload = invoke(client, name, {"items": [{"price": 2, "quantity": 3}, {"price": 1, "quantity": 1}]})
    assert "FunctionError" not in response, payload
    assert payload == 7

    name = create(client, "app.Shop::Orders.fail")
    response, payload = invoke(client, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Function<ArgumentError>" and payload["errorMessage"] == "no such order"
    assert any("app.rb" in frame for frame in payload["stackTrace"])

    name = create(client, "missing.handler")
    response, payload = invoke(client, name, {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Init<LoadError>"


@pytest.mark.skipif(any(i.version[:2] == (3, 3) for i in RUBIES), reason="the host has Ruby 3.3")
def test_ruby33_runs_on_the_nearest_ruby_with_a_warning(server):
    client = server.client("lambda")
    name = create(client, "app.lambda_handler", runtime="ruby3.3")
    warning = wait_for(lambda: [line for line in server.log().splitlines() if f"function {name}:" in line],
                       message="the substitution warning in the server log")[0]
    assert "ruby3.3 is not installed here" in warning
    response, payload = invoke(client, name, {"name": "x"})
    assert "FunctionError" not in response, payload
    assert payload["ruby"].startswith(HOST_RUBY)

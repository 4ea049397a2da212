"""CloudFormation stacks and change sets through boto3, and `cumulo deploy` on SAM templates."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.server import subprocess_env

WAIT = {"Delay": 0.2, "MaxAttempts": 300}
ROLE_AND_FUNCTION = """
AWSTemplateFormatVersion: '2010-09-09'
Description: function with a role
Parameters:
  Stage:
    Type: String
    Default: dev
    AllowedValues: [dev, prod]
  Memory:
    Type: Number
    Default: 128
    MinValue: 128
  Secret:
    Type: String
    NoEcho: true
    Default: hunter2
Mappings:
  Sizes:
    dev: {Timeout: 5}
    prod: {Timeout: 10}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}]
      Policies:
        - PolicyName: logs
          PolicyDocument: {Version: '2012-10-17', Statement: [{Effect: Allow, Action: 'logs:*', Resource: '*'}]}
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Role: !GetAtt Role.Arn
      MemorySize: !Ref Memory
      Timeout: !FindInMap [Sizes, !Ref Stage, Timeout]
      Environment:
        Variables:
          STAGE: !Ref Stage
          SIZE: !If [IsProd, large, small]
          JOINED: !Join ['-', [!Ref 'AWS::Region', !Select [1, !Split [',', 'a,b,c']]]]
          SUBBED: !Sub 'arn:${AWS::Partition}:x:${AWS::Region}:${AWS::AccountId}:${Stage}/${!Literal}'
      Code:
        ZipFile: |
          import os
          def handler(event, context):
              keys = ("STAGE", "SIZE", "JOINED", "SUBBED")
              return {k: os.environ[k] for k in keys}
  ProdOnly:
    Type: AWS::Logs::LogGroup
    Condition: IsProd
    Properties:
      RetentionInDays: 7
Outputs:
  FunctionName:
    Value: !Ref Fn
  FunctionArn:
    Value: !GetAtt Fn.Arn
    Export:
      Name: !Sub '${AWS::StackName}-function-arn'
  Encoded:
    Value: !Base64 hello
"""


def unique(prefix: str = "stack") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def cloudformation(server):
    return server.client("cloudformation")


def outputs(cloudformation, name: str) -> dict[str, str]:
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def create_sam_stack(cloudformation, prefix: str, template: str) -> tuple[str, dict[str, str]]:
    """Create a stack from a SAM template, wait for CREATE_COMPLETE: its name and outputs."""
    name = unique(prefix)
    cloudformation.create_stack(StackName=name, TemplateBody=template,
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    return name, outputs(cloudformation, name)


def invoke(server, name: str) -> object:
    return json.loads(server.client("lambda").invoke(FunctionName=name)["Payload"].read())


def test_create_update_delete_with_parameters_conditions_and_intrinsics(server, cloudformation):
    name = unique()
    stack_id = cloudformation.create_stack(StackName=name, TemplateBody=ROLE_AND_FUNCTION,
                                           Capabilities=["CAPABILITY_IAM"])["StackId"]
    assert stack_id.startswith(f"arn:aws:cloudformation:us-east-1:000000000000:stack/{name}/")
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["Description"] == "function with a role"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Secret"] == "****"
    values = outputs(cloudformation, name)
    assert values["Encoded"] == "aGVsbG8="
    assert invoke(server, values["FunctionName"]) == {
        "STAGE": "dev", "SIZE": "small", "JOINED": "us-east-1-b",
        "SUBBED": "arn:aws:x:us-east-1:000000000000:dev/${Literal}"}
    resources = {r["LogicalResourceId"]: r for r in
                 cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
    assert set(resources) == {"Role", "Fn"}
    assert resources["Fn"]["PhysicalResourceId"] == values["FunctionName"]
    assert any(e["ExportingStackId"] == stack_id for e in cloudformation.list_exports()["Exports"])

    cloudformation.update_stack(StackName=name, TemplateBody=ROLE_AND_FUNCTION, Capabilities=["CAPABILITY_IAM"],
                                Parameters=[{"ParameterKey": "Stage", "ParameterValue": "prod"},
                                            {"ParameterKey": "Secret", "UsePreviousValue": True}])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert invoke(server, values["FunctionName"])["SIZE"] == "large"
    function = server.client("lambda").get_function_configuration(FunctionName=values["FunctionName"])
    assert function["Timeout"] == 10
    assert "ProdOnly" in {r["LogicalResourceId"] for r in
                          cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
    with pytest.raises(ClientError) as no_change:
        cloudformation.update_stack(StackName=name, TemplateBody=ROLE_AND_FUNCTION, Capabilities=["CAPABILITY_IAM"],
                                    Parameters=[{"ParameterKey": "Stage", "UsePreviousValue": True},
                                                {"ParameterKey": "Secret", "UsePreviousValue": True}])
    assert no_change.value.response["Error"]["Message"] == "No updates are to be performed."

    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    assert events[0]["LogicalResourceId"] == name and events[0]["ResourceStatus"] == "UPDATE_COMPLETE"
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    with pytest.raises(ClientError):
        server.client("lambda").get_function(FunctionName=values["FunctionName"])
    with pytest.raises(ClientError) as gone:
        cloudformation.describe_stacks(StackName=name)
    assert "does not exist" in gone.value.response["Error"]["Message"]
    summaries = cloudformation.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert stack_id in {s["StackId"] for s in summaries}


@pytest.mark.parametrize(("template", "capabilities", "message"), [
    ("Resources: {}", [], "At least one Resources member must be defined"),
    ("Resources:\n  A: {Type: AWS::Fancy::Thing}", [], "AWS::Fancy::Thing"),
    ("Resources:\n  A: {Type: AWS::Logs::LogGroup, Properties: {LogGroupName: !Ref Missing}}", [],
     "Unresolved resource dependencies [Missing]"),
    ("Parameters:\n  P: {Type: String}\nResources:\n  A: {Type: AWS::Logs::LogGroup}", [], "must have values"),
    ("Resources:\n  A: {Type: AWS::Logs::LogGroup, DependsOn: B}\n  B: {Type: AWS::Logs::LogGroup, DependsOn: A}",
     [], "Circular dependency"),
    ("Resources:\n  R:\n    Type: AWS::IAM::Role\n    Properties: {AssumeRolePolicyDocument: {}}", [],
     "Requires capabilities : [CAPABILITY_IAM]"),
    ("key: [unclosed", [], "Template format error"),
    ("Parameters:\n  Stage:\nResources:\n  A: {Type: AWS::Logs::LogGroup}", [],
     "Every Parameters object must contain a Type member. (Parameters/Stage)"),
    ("Outputs: [a]\nResources:\n  A: {Type: AWS::Logs::LogGroup}", [], "Outputs must be an object"),
    ("Transform: AWS::Serverless-2016-10-31\nGlobals:\nResources:\n  A: {Type: AWS::Logs::LogGroup}",
     ["CAPABILITY_AUTO_EXPAND"], "'Globals' section is invalid"),
])
def test_invalid_templates_fail_up_front_and_create_nothing(cloudformation, template, capabilities, message):
    name = unique()
    with pytest.raises(ClientError) as excinfo:
        cloudformation.create_stack(StackName=name, TemplateBody=template, Capabilities=capabilities)
    assert message in excinfo.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        cloudformation.describe_stacks(StackName=name)


def test_empty_sections_count_as_absent(cloudformation):
    """YAML sections left empty (null) deploy as if absent, as CloudFormation accepts them."""
    name = unique()
    template = "Parameters:\nMappings:\nConditions:\nMetadata:\nOutputs:\nResources:\n  A: {Type: AWS::Logs::LogGroup}"
    cloudformation.create_stack(StackName=name, TemplateBody=template)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert cloudformation.validate_template(TemplateBody=template)["Parameters"] == []
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


def test_a_deleted_stack_redeploys_at_once_with_the_same_queue_names(server, cloudformation):
    """Delete then deploy again: SQS's 60-second QueueDeletedRecently wait is off by default."""
    name, queue = unique(), unique("fixed")
    template = f"Resources:\n  Q: {{Type: AWS::SQS::Queue, Properties: {{QueueName: {queue}}}}}"
    for _ in range(2):
        cloudformation.create_stack(StackName=name, TemplateBody=template)
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
        assert server.client("sqs").get_queue_url(QueueName=queue)["QueueUrl"].endswith(f"/{queue}")
        cloudformation.delete_stack(StackName=name)
        cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


def test_failed_create_rolls_back_everything(server, cloudformation):
    name = unique()
    template = textwrap.dedent("""
        Resources:
          Good:
            Type: AWS::Logs::LogGroup
            Properties: {LogGroupName: !Sub '/rollback/${AWS::StackName}'}
          Bad:
            Type: AWS::Lambda::Function
            DependsOn: Good
            Properties:
              Runtime: python3.11
              Handler: index.handler
              Role: arn:aws:iam::000000000000:role/r
              MemorySize: 64
              Code: {ZipFile: 'x = 1'}
    """)
    cloudformation.create_stack(StackName=name, TemplateBody=template)
    with pytest.raises(WaiterError):
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED"]
    assert failed[0]["LogicalResourceId"] == "Bad"
    assert "memorySize" in failed[0]["ResourceStatusReason"]
    assert server.client("logs").describe_log_groups(logGroupNamePrefix=f"/rollback/{name}")["logGroups"] == []
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


TYPED_VARIABLES = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      Timeout: "7"
      Environment:
        Variables: {Variable1: 1234, Flag: true, Ratio: 0.5, Whole: 2.0}
      InlineCode: |
        import os
        def handler(event, context):
            return {k: os.environ[k] for k in ("Variable1", "Flag", "Ratio", "Whole")}
Outputs:
  Name: {Value: !Ref Fn}
"""


def test_property_values_take_the_types_of_the_api_model(server, cloudformation):
    """YAML numbers and booleans in string members deploy as strings, numeric strings as numbers."""
    name, values = create_sam_stack(cloudformation, "typed", TYPED_VARIABLES)
    assert invoke(server, values["Name"]) == {"Variable1": "1234", "Flag": "true", "Ratio": "0.5", "Whole": "2"}
    assert server.client("lambda").get_function_configuration(FunctionName=values["Name"])["Timeout"] == 7
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


@pytest.mark.parametrize(("change", "reason"), [
    (("Timeout: \"7\"", "Timeout: soon"),
     "Properties validation failed for resource Fn with message: #/Timeout: expected type: Integer, found: String"),
    (("Variable1: 1234", "1nvalid: 1234"),
     "Value '1nvalid' at 'environment.variables.1nvalid.key' failed to satisfy constraint"),
])
def test_invalid_property_values_fail_the_deploy_with_the_reason(cloudformation, change, reason):
    name = unique("badtype")
    cloudformation.create_stack(StackName=name, TemplateBody=TYPED_VARIABLES.replace(*change),
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    with pytest.raises(WaiterError):
        cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    events = cloudformation.describe_stack_events(StackName=name)["StackEvents"]
    failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Fn"]
    assert reason in failed[0]["ResourceStatusReason"]
    assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "ROLLBACK_COMPLETE"
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)


def test_unsupported_properties_fail_the_deploy_up_front(server, cloudformation):
    """A property Cumulo does not implement is never silently dropped: the stack is refused, nothing exists."""
    name = unique("runtime-management")
    template = TYPED_VARIABLES.replace("      Timeout:", "      RuntimeManagementConfig: {UpdateRuntimeOn: Auto}\n"
                                                          "      Timeout:")
    with pytest.raises(ClientError) as raised:
        cloudformation.create_stack(StackName=name, TemplateBody=template,
                                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    assert raised.value.response["Error"]["Code"] == "ValidationError"
    assert raised.value.response["Error"]["Message"] == (
        "Resource Fn: property RuntimeManagementConfig is not supported by Cumulo yet. Nothing was created.")
    with pytest.raises(ClientError):
        cloudformation.describe_stacks(StackName=name)
    functions = server.client("lambda").list_functions()["Functions"]
    assert not [f for f in functions if f["FunctionName"].startswith(name)]


def test_failed_update_rolls_back_to_the_previous_configuration(server, cloudformation):
    name = unique()
    template = textwrap.dedent("""
        Parameters:
          Memory: {Type: Number, Default: 128}
        Resources:
          Fn:
            Type: AWS::Lambda::Function
            Properties:
              Runtime: python3.11
              Handler: index.handler
              Role: arn:aws:iam::000000000000:role/r
              MemorySize: !Ref Memory
              Code: {ZipFile: 'def handler(e, c): return 1'}
          Group:
            Type: AWS::Logs::LogGroup
            Properties:
              RetentionInDays: !If [Broken, 2, 7]
        Conditions:
          Broken: !Equals [!Ref Memory, 256]
        Outputs:
          Name: {Value: !Ref Fn}
    """)
    cloudformation.create_stack(StackName=name, TemplateBody=template)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)
    function = outputs(cloudformation, name)["Name"]
    cloudformation.update_stack(StackName=name, TemplateBody=template,
                                Parameters=[{"ParameterKey": "Memory", "ParameterValue": "256"}])
    with pytest.raises(WaiterError):
        cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert server.client("lambda").get_function_configuration(FunctionName=function)["MemorySize"] == 128
    cloudformation.delete_stack(StackName=name)


def test_change_sets_preview_and_execute(server, cloudformation):
    name = unique()
    first = "Resources:\n  A: {Type: AWS::Logs::LogGroup}\n  B: {Type: AWS::Logs::LogGroup}\n"
    created = cloudformation.create_change_set(StackName=name, ChangeSetName="one", ChangeSetType="CREATE",
                                               TemplateBody=first)
    assert cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"] == "REVIEW_IN_PROGRESS"
    described = cloudformation.describe_change_set(ChangeSetName=created["Id"])
    assert described["Status"] == "CREATE_COMPLETE" and described["ExecutionStatus"] == "AVAILABLE"
    assert sorted(c["ResourceChange"]["LogicalResourceId"] for c in described["Changes"]) == ["A", "B"]
    cloudformation.execute_change_set(ChangeSetName=created["Id"])
    cloudformation.get_waiter("stack_create_complete").wait(StackName=name, WaiterConfig=WAIT)

    second = ("Resources:\n  A: {Type: AWS::Logs::LogGroup, Properties: {RetentionInDays: 5}}\n"
              "  C: {Type: AWS::Logs::LogGroup}\n")
    update = cloudformation.create_change_set(StackName=name, ChangeSetName="two", TemplateBody=second)
    changes = {c["ResourceChange"]["LogicalResourceId"]: c["ResourceChange"] for c in
               cloudformation.describe_change_set(ChangeSetName=update["Id"])["Changes"]}
    assert (changes["A"]["Action"], changes["A"]["Replacement"]) == ("Modify", "False")
    assert changes["B"]["Action"] == "Remove" and changes["C"]["Action"] == "Add"
    cloudformation.execute_change_set(ChangeSetName="two", StackName=name)
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert sorted(r["LogicalResourceId"] for r in
                  cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]) == ["A", "C"]
    empty = cloudformation.create_change_set(StackName=name, ChangeSetName="three", TemplateBody=second)
    assert cloudformation.describe_change_set(ChangeSetName=empty["Id"])["Status"] == "FAILED"
    cloudformation.delete_stack(StackName=name)


def test_exports_imports_and_template_retrieval(cloudformation):
    producer, consumer = unique("producer"), unique("consumer")
    cloudformation.create_stack(StackName=producer, TemplateBody=textwrap.dedent(f"""
        Resources:
          G: {{Type: AWS::Logs::LogGroup}}
        Outputs:
          Group: {{Value: !Ref G, Export: {{Name: {producer}-group}}}}
    """))
    cloudformation.get_waiter("stack_create_complete").wait(StackName=producer, WaiterConfig=WAIT)
    consumer_template = textwrap.dedent(f"""
        Resources:
          H:
            Type: AWS::Logs::LogGroup
            Properties: {{LogGroupName: !Join ['', [!ImportValue {producer}-group, '-copy']]}}
        Outputs:
          Copy: {{Value: !Ref H}}
    """)
    cloudformation.create_stack(StackName=consumer, TemplateBody=consumer_template)
    cloudformation.get_waiter("stack_create_complete").wait(StackName=consumer, WaiterConfig=WAIT)
    group = outputs(cloudformation, producer)["Group"]
    assert outputs(cloudformation, consumer)["Copy"] == f"{group}-copy"
    assert cloudformation.list_imports(ExportName=f"{producer}-group")["Imports"] == [consumer]
    with pytest.raises(ClientError) as in_use:
        cloudformation.delete_stack(StackName=producer)
    assert "in use" in in_use.value.response["Error"]["Message"]
    assert cloudformation.get_template(StackName=consumer)["TemplateBody"] == consumer_template
    validated = cloudformation.validate_template(TemplateBody=ROLE_AND_FUNCTION)
    assert [p["ParameterKey"] for p in validated["Parameters"]] == ["Stage", "Memory", "Secret"]
    assert validated["Capabilities"] == ["CAPABILITY_IAM"]
    cloudformation.delete_stack(StackName=consumer)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=consumer, WaiterConfig=WAIT)
    cloudformation.delete_stack(StackName=producer)


def test_cumulo_deploy_packages_a_sam_app_and_updates_it(server, tmp_path: Path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("import os\n\ndef handler(e, c):\n    return os.environ['WORD']\n")
    (tmp_path / "template.yaml").write_text(textwrap.dedent("""
        AWSTemplateFormatVersion: '2010-09-09'
        Transform: AWS::Serverless-2016-10-31
        Parameters:
          Word: {Type: String, Default: hello}
        Globals:
          Function:
            Runtime: python3.11
            Timeout: 10
        Resources:
          Echo:
            Type: AWS::Serverless::Function
            Properties:
              CodeUri: src/
              Handler: app.handler
              AutoPublishAlias: live
              Environment: {Variables: {WORD: !Ref Word}}
        Outputs:
          Name: {Value: !Ref Echo}
          AliasArn: {Value: !Ref Echo.Alias}
    """))
    stack = unique("sam")

    def cumulo(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cumulo.cli.main", *args, "--endpoint-url", server.url],
                              capture_output=True, text=True, timeout=120, env=subprocess_env())

    first = cumulo("deploy", "--template", str(tmp_path / "template.yaml"), "--stack-name", stack)
    assert first.returncode == 0, first.stderr + first.stdout
    assert "CREATE_COMPLETE" in first.stdout and "AWS::Lambda::Alias" in first.stdout
    invoked = cumulo("invoke", "Echo", "--stack-name", stack)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout) == "hello"
    assert "REPORT RequestId" in invoked.stderr

    (tmp_path / "src" / "app.py").write_text("import os\n\ndef handler(e, c):\n    return os.environ['WORD'] * 2\n")
    second = cumulo("deploy", "--template", str(tmp_path / "template.yaml"), "--stack-name", stack,
                    "--parameter-overrides", "Word=bye")
    assert second.returncode == 0, second.stderr + second.stdout
    assert json.loads(cumulo("invoke", "Echo", "--stack-name", stack).stdout) == "byebye"
    unchanged = cumulo("deploy", "--template", str(tmp_path / "template.yaml"), "--stack-name", stack,
                       "--parameter-overrides", "Word=bye")
    assert "No changes to deploy" in unchanged.stdout
    logs = cumulo("logs", "Echo", "--stack-name", stack)
    assert "REPORT RequestId" in logs.stdout
    deleted = cumulo("delete", "--stack-name", stack)
    assert deleted.returncode == 0, deleted.stderr
    assert "DELETE_COMPLETE" in deleted.stdout


def test_cumulo_deploy_reports_a_missing_server_and_template(tmp_path: Path):
    result = subprocess.run([sys.executable, "-m", "cumulo.cli.main", "deploy", "--template",
                             str(tmp_path / "none.yaml"), "--endpoint-url", "http://127.0.0.1:9"],
                            capture_output=True, text=True, timeout=60, env=subprocess_env())
    assert result.returncode == 1
    assert "cumulo serve" in result.stderr


MESSAGING_APP = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Inbox:
    Type: AWS::SQS::Queue
    Properties: {VisibilityTimeout: 30}
  Outbox:
    Type: AWS::SQS::Queue
  Failures:
    Type: AWS::SQS::Queue
  Notices:
    Type: AWS::SNS::Topic
    Properties:
      Subscription:
        - {Protocol: sqs, Endpoint: !GetAtt Outbox.Arn}
  OutboxPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Outbox]
      PolicyDocument:
        Statement: [{Effect: Allow, Principal: {Service: sns.amazonaws.com}, Action: sqs:SendMessage,
                     Resource: !GetAtt Outbox.Arn}]
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Timeout: 30
      InlineCode: |
        import json, os, boto3
        def handler(event, context):
            records = event.get("Records", [{"body": json.dumps(event)}])
            for record in records:
                boto3.client("sns").publish(TopicArn=os.environ["TOPIC"], Message=record["body"])
            return {"handled": len(records)}
      Environment: {Variables: {TOPIC: !Ref Notices}}
      EventInvokeConfig:
        MaximumRetryAttempts: 0
        DestinationConfig:
          OnFailure: {Type: SQS, Destination: !GetAtt Failures.Arn}
      Events:
        FromInbox:
          Type: SQS
          Properties: {Queue: !GetAtt Inbox.Arn, BatchSize: 5}
  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Work
        States:
          Work: {Type: Task, Resource: '${WorkerArn}', End: true}
      DefinitionSubstitutions: {WorkerArn: !GetAtt Worker.Arn}
      Policies: [{LambdaInvokePolicy: {FunctionName: !Ref Worker}}]
Outputs:
  InboxUrl: {Value: !Ref Inbox}
  OutboxUrl: {Value: !Ref Outbox}
  FlowArn: {Value: !Ref Flow}
"""


def test_sam_app_with_queues_topics_mappings_and_a_workflow(server, cloudformation):
    name, values = create_sam_stack(cloudformation, "messaging", MESSAGING_APP)
    sqs = server.client("sqs")
    sqs.send_message(QueueUrl=values["InboxUrl"], MessageBody='{"order": 1}')
    sfn = server.client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=values["FlowArn"], input='{"order": 2}')["executionArn"]

    received: list[str] = []

    def both_arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=values["OutboxUrl"], MaxNumberOfMessages=10,
                                           WaitTimeSeconds=1).get("Messages", []):
            received.append(json.loads(message["Body"])["Message"])
            sqs.delete_message(QueueUrl=values["OutboxUrl"], ReceiptHandle=message["ReceiptHandle"])
        return len(received) >= 2

    from tests.server import wait_for
    wait_for(both_arrived, timeout=90, interval=0, message="messages through the mapping and the workflow")
    assert sorted(json.loads(m)["order"] for m in received) == [1, 2]
    assert sfn.describe_execution(executionArn=execution)["status"] in ("RUNNING", "SUCCEEDED")
    types = {r["ResourceType"] for r in cloudformation.describe_stack_resources(StackName=name)["StackResources"]}
    assert {"AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig", "AWS::SNS::Topic",
            "AWS::SQS::QueuePolicy", "AWS::StepFunctions::StateMachine"} <= types
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []) == []


EVENTS_APP = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Bus:
    Type: AWS::Events::EventBus
    Properties: {Name: !Sub '${AWS::StackName}-bus'}
  Seen:
    Type: AWS::SQS::Queue
  Groups:
    Type: AWS::Scheduler::ScheduleGroup
  Handler:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      Handler: index.handler
      Timeout: 30
      InlineCode: |
        import json, os, boto3
        def handler(event, context):
            boto3.client("sqs").send_message(QueueUrl=os.environ["SEEN"], MessageBody=json.dumps(event))
      Environment: {Variables: {SEEN: !Ref Seen}}
      Events:
        Orders:
          Type: EventBridgeRule
          Properties:
            EventBusName: !Ref Bus
            Pattern: {source: [shop], detail-type: [OrderPlaced]}
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0 3 * * ? *)
            GroupName: !Ref Groups
Outputs:
  SeenUrl: {Value: !Ref Seen}
  BusName: {Value: !Ref Bus}
  GroupName: {Value: !Ref Groups}
"""


def test_sam_app_with_a_bus_rule_and_a_schedule(server, cloudformation):
    name, values = create_sam_stack(cloudformation, "events", EVENTS_APP)
    server.client("events").put_events(Entries=[
        {"EventBusName": values["BusName"], "Source": "shop", "DetailType": "OrderPlaced", "Detail": '{"id": 9}'},
        {"EventBusName": values["BusName"], "Source": "other", "DetailType": "OrderPlaced", "Detail": "{}"}])
    sqs = server.client("sqs")
    from tests.server import wait_for
    messages = wait_for(lambda: sqs.receive_message(QueueUrl=values["SeenUrl"], WaitTimeSeconds=1).get("Messages"),
                        timeout=60, message="the rule to invoke the function")
    event = json.loads(messages[0]["Body"])
    assert (event["source"], event["detail"]) == ("shop", {"id": 9})
    schedules = server.client("scheduler").list_schedules(GroupName=values["GroupName"])["Schedules"]
    assert [s["State"] for s in schedules] == ["ENABLED"]
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert values["BusName"] not in [b["Name"] for b in server.client("events").list_event_buses()["EventBuses"]]


PROVISIONED_APP = """
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Provisioned:
    Type: Number
    Default: 2
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.12
      Handler: index.handler
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: !Ref Provisioned
      InlineCode: |
        import os
        def handler(event, context):
            return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]
  Target:
    Type: AWS::ApplicationAutoScaling::ScalableTarget
    DependsOn: FnAliaslive
    Properties:
      ServiceNamespace: lambda
      ScalableDimension: lambda:function:ProvisionedConcurrency
      ResourceId: !Sub function:${Fn}:live
      MinCapacity: 1
      MaxCapacity: 3
      ScheduledActions:
        - ScheduledActionName: nightly
          Schedule: cron(0 22 * * ? *)
          Timezone: Europe/Paris
          ScalableTargetAction: {MinCapacity: 1, MaxCapacity: 2}
  Policy:
    Type: AWS::ApplicationAutoScaling::ScalingPolicy
    Properties:
      PolicyName: utilization
      PolicyType: TargetTrackingScaling
      ScalingTargetId: !Ref Target
      TargetTrackingScalingPolicyConfiguration:
        TargetValue: 0.7
        PredefinedMetricSpecification:
          PredefinedMetricType: LambdaProvisionedConcurrencyUtilization
Outputs:
  FunctionName:
    Value: !Ref Fn
  TargetId:
    Value: !Ref Target
  PolicyArn:
    Value: !GetAtt Policy.Arn
"""


def test_sam_provisioned_concurrency_with_auto_scaling(server, cloudformation):
    name, values = create_sam_stack(cloudformation, "provisioned", PROVISIONED_APP)
    function = values["FunctionName"]
    lambda_client = server.client("lambda")
    config = lambda_client.get_provisioned_concurrency_config(FunctionName=function, Qualifier="live")
    assert (config["Status"], config["RequestedProvisionedConcurrentExecutions"],
            config["AllocatedProvisionedConcurrentExecutions"]) == ("READY", 2, 2)
    assert json.loads(lambda_client.invoke(FunctionName=function, Qualifier="live")["Payload"].read()) \
        == "provisioned-concurrency"
    assert values["TargetId"] == f"function:{function}:live|lambda:function:ProvisionedConcurrency|lambda"

    scaling = server.client("application-autoscaling")
    ours = {"ServiceNamespace": "lambda", "ResourceIds": [f"function:{function}:live"]}
    targets = scaling.describe_scalable_targets(**ours)["ScalableTargets"]
    assert [(t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [
        (f"function:{function}:live", 1, 3)]
    actions = scaling.describe_scheduled_actions(ServiceNamespace="lambda",
                                                 ResourceId=f"function:{function}:live")["ScheduledActions"]
    assert [(a["ScheduledActionName"], a["Schedule"], a["Timezone"]) for a in actions] == [
        ("nightly", "cron(0 22 * * ? *)", "Europe/Paris")]
    policies = scaling.describe_scaling_policies(ServiceNamespace="lambda",
                                                 ResourceId=f"function:{function}:live")["ScalingPolicies"]
    assert [(p["PolicyName"], p["PolicyARN"]) for p in policies] == [("utilization", values["PolicyArn"])]

    cloudformation.update_stack(StackName=name, UsePreviousTemplate=True,
                                Parameters=[{"ParameterKey": "Provisioned", "ParameterValue": "1"}],
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"])
    cloudformation.get_waiter("stack_update_complete").wait(StackName=name, WaiterConfig=WAIT)
    config = lambda_client.get_provisioned_concurrency_config(FunctionName=function, Qualifier="live")
    assert (config["Status"], config["RequestedProvisionedConcurrentExecutions"]) == ("READY", 1)

    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name, WaiterConfig=WAIT)
    assert scaling.describe_scalable_targets(**ours)["ScalableTargets"] == []
    assert scaling.describe_scaling_policies(ServiceNamespace="lambda",
                                             ResourceId=f"function:{function}:live")["ScalingPolicies"] == []

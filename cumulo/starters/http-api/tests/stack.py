"""The deployed stack these tests talk to: named after the project folder (as `cumulo dev` names it),
or $STACK_NAME. Run with the environment of `eval "$(cumulo env)"`."""

import os
from pathlib import Path

import boto3

STACK_NAME = os.environ.get("STACK_NAME") or Path(os.environ.get("PWD") or os.getcwd()).name


def output(key):
    stack = boto3.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]
    return next(item["OutputValue"] for item in stack["Outputs"] if item["OutputKey"] == key)


def function_name(logical_id):
    resource = boto3.client("cloudformation").describe_stack_resource(
        StackName=STACK_NAME, LogicalResourceId=logical_id)["StackResourceDetail"]
    return resource["PhysicalResourceId"]

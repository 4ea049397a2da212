"""AWS CloudFormation: the API (``provider``) and the engine that deploys stacks.

The engine: ``template`` (prepare a template: SAM expansion, parameters, conditions),
``intrinsics`` (Ref and the ``Fn::`` functions), ``stack_operation`` (create, update and delete
resources in dependency order, with rollback) and ``resources`` (one handler per resource type).
"""

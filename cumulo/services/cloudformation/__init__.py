"""AWS CloudFormation: the API (``provider``) and the engine that deploys stacks.

The engine: ``template`` prepares a template before anything is created (structure, conditions,
references) with ``sam_transform`` (the SAM expansion), ``parameters`` (binding and checks,
pseudo parameters) and ``ordering`` (the dependency graph); ``intrinsics`` evaluates Ref and the
``Fn::`` functions; ``stack_operation`` creates, updates and deletes resources in dependency
order, with rollback; ``resources`` holds one handler per resource type.
"""

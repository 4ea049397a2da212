"""AWS Step Functions: state machines, versions, aliases and executions on the `cumulo.asl` engine.

See ``docs/stepfunctions.md`` for the user-facing behaviour and ``provider.py`` for the design.
"""

"""Lambda durable functions: checkpointed, replayable executions (see docs/durable-functions.md)."""

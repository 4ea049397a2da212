"""Amazon EventBridge Pipes: a source polled in batches, filtered, enriched, and delivered to a target."""

"""Amazon EventBridge Scheduler: schedules and schedule groups."""

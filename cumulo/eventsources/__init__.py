"""Event sources that feed functions: pollers for queues (and, later, streams)."""

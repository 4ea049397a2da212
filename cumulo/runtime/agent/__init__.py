"""The in-environment init agent: Runtime API today; Extensions and Telemetry APIs next to it."""

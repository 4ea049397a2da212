"""Application Auto Scaling (provisioned concurrency of Lambda functions)."""

"""Amazon CloudWatch metrics."""

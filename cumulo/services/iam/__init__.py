"""AWS IAM (recorded, not enforced)."""

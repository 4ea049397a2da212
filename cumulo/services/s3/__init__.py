"""Amazon S3 (the subset serverless applications use)."""

"""Amazon Data Firehose (minimal): DirectPut delivery streams into S3."""

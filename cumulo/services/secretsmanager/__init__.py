"""AWS Secrets Manager: secrets, versions and staging labels, rotation, deletion windows."""

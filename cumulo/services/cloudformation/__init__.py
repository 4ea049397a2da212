"""AWS CloudFormation."""

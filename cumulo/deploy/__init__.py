"""Deploying CloudFormation and SAM templates onto Cumulo's own services."""

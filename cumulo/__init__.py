"""Cumulo: a self-hosted, AWS-compatible serverless platform."""

__version__ = "0.1.0"

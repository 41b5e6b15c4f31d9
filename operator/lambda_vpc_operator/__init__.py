"""Declarative VPC attachment of AWS Lambda functions from Kubernetes."""

"""Carrying out plans: observe AWS, ask the planner, act, report.

This is the only place where the pure planner meets I/O. It knows neither kopf nor botocore: AWS
is reached through ``lambda_vpc_operator.aws`` and the cluster through a ``Reporter`` that the
handlers supply, so the same loop can be driven by kopf, by a test, or by something else.
"""

"""Local stand-ins for a Kubernetes cluster and an AWS account, for tests, benchmarks and ``make sandbox``.

``kube``: an in-memory Kubernetes API server over real HTTP (built on kmock). ``aws``: moto over
real HTTP, plus the Lambda VPC behaviour moto lacks. ``processes``: the operator as a child process
pointed at both. ``running``: the ``lambda-vpc-operator sandbox`` command. The operator itself
never imports this package (an import-linter contract says so).
"""

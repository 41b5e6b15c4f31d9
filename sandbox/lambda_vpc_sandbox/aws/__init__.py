"""The AWS simulator: moto over real HTTP, plus what moto lacks for Lambda VPC attachment.

Why: the operator must be tested against the behaviours that make VPC attachment hard (updates in
progress and their conflicts, Hyperplane ENIs created and deleted late and shared, failures that
arrive after the call, Inactive functions, request budgets), and moto alone has none of them
(aws-facts "moto 5.2 against these facts"). Layout, like moto's own:

- ``config``: SimConfig, the delays/quotas/rates with their AWS facts.
- ``clock``: simulated time (real time + offset), ``advance``.
- ``networking``: VpcConfig checks against moto's EC2 and Hyperplane ENIs in it.
- ``functions``: the lifecycle state machine of a function.
- ``backend``: our state beside moto's, the rules that move it along the clock.
- ``budgets``: Lambda request budgets, EC2's request buckets, call counters.
- ``faults``: injected faults (throttles, 5xx, HTML, truncation, latency, resets, conflicts, stale
  reads, missing APIs), as rules with a rate and a seeded RNG.
- ``paging``: DescribeNetworkInterfaces' MaxResults/NextToken, which moto ignores.
- ``routing``: which operation a request is (botocore's Lambda model; Action for EC2/IAM/STS).
- ``permissions``: IAM policy evaluation, SimulatePrincipalPolicy, AccessDenied answers.
- ``authorization``: which IAM action and resource a request is; a caller's principal policy.
- ``exceptions``, ``wire``: Lambda errors and HTTP responses as data.
- ``responses``: the Lambda operations answered differently from moto.
- ``middleware``: the WSGI layer in front of moto.
- ``control``: the ``/_sim/`` control routes and the ``SimulatorControl`` client.
- ``seeding``: the demo account.
- ``server``: ``AwsSimulator`` and ``main`` (``lambda-vpc-operator sandbox aws``).
"""

from .config import SimConfig
from .control import SimulatorControl, SimulatorControlError
from .seeding import DemoAccount, seed_demo_account
from .server import AwsSimulator, main

__all__ = [
    "AwsSimulator",
    "DemoAccount",
    "SimConfig",
    "SimulatorControl",
    "SimulatorControlError",
    "main",
    "seed_demo_account",
]

"""What one request costs the AWS simulator itself, at a few numbers of functions.

Starts the simulator in this process (budgets off: this measures the simulator, not AWS' limits),
creates N functions attached to a VPC over three subnet pairs (a few shared Hyperplane ENIs, as in
the operator's benchmark), lets them become Active, then measures over real HTTP:

- GetFunction requests/s from one client (each request also settles the simulated clock);
- one ListFunctions sweep (pages of 50, as the operator's observer reads them) and its cost a page;
- the seconds the simulator takes to process N idle transitions (the clock moved 14 days at once).

Numbers go to stdout as JSON; docs/benchmarks.md "Simulator" records what a run measured. Usage:

    .venv/bin/python benchmarks/simulator.py --functions 100 2000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from lambda_vpc_sandbox.aws.config import SimConfig
from lambda_vpc_sandbox.aws.seeding import client, handler_zip, seed_demo_account
from lambda_vpc_sandbox.aws.server import AwsSimulator

REQUESTS = 500


def measure(functions: int) -> dict[str, Any]:
    config = SimConfig(rate_limits_enabled=False, create_delay=0.0, update_delay=0.0, eni_create_delay=0.0)
    with AwsSimulator(config=config) as simulator:
        simulator.control.reset()  # moto's backends are process-global (aws-facts "moto 5.2")
        demo = seed_demo_account(simulator.endpoint_url)
        lam = client("lambda", simulator.endpoint_url)
        pairs = [
            [demo.private_subnet_a_id, demo.private_subnet_b_id],
            [demo.private_subnet_b_id, demo.private_subnet_c_id],
            [demo.private_subnet_a_id, demo.private_subnet_c_id],
        ]
        code = handler_zip()
        started = time.perf_counter()
        for index in range(functions):
            lam.create_function(
                FunctionName=f"bench-{index}",
                Runtime="python3.12",
                Handler="lambda_function.handler",
                Role=demo.role_arn,
                Code={"ZipFile": code},
                VpcConfig={"SubnetIds": pairs[index % 3], "SecurityGroupIds": [demo.app_sg_id]},
            )
        created = time.perf_counter() - started
        simulator.control.advance(1)
        started = time.perf_counter()
        for index in range(REQUESTS):
            lam.get_function(FunctionName=f"bench-{index % functions}")
        per_request = (time.perf_counter() - started) / REQUESTS
        started, pages, marker = time.perf_counter(), 0, None
        while True:
            page = lam.list_functions(MaxItems=50, **({"Marker": marker} if marker else {}))
            pages, marker = pages + 1, page.get("NextMarker")
            if not marker:
                break
        sweep = time.perf_counter() - started
        started = time.perf_counter()
        simulator.control.advance(15 * 24 * 3600)  # every function idle at once
        idle = time.perf_counter() - started
        states = {f["State"] for f in simulator.control.functions() if f["name"].startswith("bench-")}
        return {
            "functions": functions,
            "create_s": round(created, 2),
            "get_function_per_s": round(1 / per_request),
            "get_function_ms": round(per_request * 1000, 2),
            "list_functions_pages": pages,
            "list_functions_sweep_s": round(sweep, 2),
            "list_functions_page_ms": round(sweep / pages * 1000, 2),
            "idle_transitions_s": round(idle, 2),
            "states_after_idle": sorted(states),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, nargs="+", default=[100, 2000])
    args = parser.parse_args()
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    print(json.dumps([measure(n) for n in args.functions], indent=2))


if __name__ == "__main__":
    main()

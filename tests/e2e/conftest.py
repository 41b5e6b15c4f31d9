"""End-to-end fixtures: a target (emulators by default, or a real cluster and AWS) and the operator.

Default target: the Kubernetes API emulator (``EmulatorThread``) in this process and the AWS
simulator (short delays, AWS' rate limits on) in a child process of its own (moto is
process-global), a seeded demo account, our CRDs, and ONE operator child process for the whole
directory (``lambda-vpc-operator run --namespace 'e2e-*'``), reached over real HTTP through a
kubeconfig and ``AWS_ENDPOINT_URL``. The simulator holds the operator's access key to
docs/iam-policy.json, as IAM would.

Under pytest-xdist (pyproject's addopts) each worker that runs e2e tests has a session of its own:
its own emulator, simulator and operator on free ports, its own temporary directory, and its own
end-of-session checks (the IAM policy refused nothing, the chart's RBAC allows every request).

Real target: set ``LVO_E2E_KUBECONFIG`` (and the other ``LVO_E2E_*`` variables, docs/testing.md).
The run is refused unless the kubeconfig's current context is ``LVO_E2E_CONTEXT``, so a cluster
not meant for tests is never touched. Tests marked ``simulator`` (faults, call counts) are skipped
there.

Each test gets its own namespace ``e2e-<random>``; its attachments are deleted, and awaited until
the operator has released them, before the namespace goes. On failure, the tail of the operator's
log since the test began is added to the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import yaml

import rbac_audit
from harness import (
    CLIENT_CONFIG,
    LOGS,
    Namespace,
    Network,
    Target,
    emulator_target,
    free_port,
    unique_name,
    watch_log,
)
from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.aws import SimConfig, SimulatorControl
from lambda_vpc_sandbox.aws.seeding import handler_zip
from lambda_vpc_sandbox.kube.control import KubeControl
from lambda_vpc_sandbox.processes import OPERATOR_ACCESS_KEY

REGION = "us-east-1"
NAMESPACE_GLOB = "e2e-*"
# Short enough that drift tests see several resyncs in seconds; long enough to be a real interval.
RESYNC_INTERVAL = 3.0
# Delays in simulated seconds: a new ENI takes longer than an update, as on AWS (aws-facts
# "Hyperplane ENIs"), but everything settles within a couple of the operator's first polls.
SIM_CONFIG = SimConfig(create_delay=0.2, update_delay=0.5, eni_create_delay=1.5, eni_delete_delay=2.0)
# What real AWS needs instead of a simulated second: ENIs take minutes (aws-facts).
REAL_TIMEOUT_SCALE = 20.0
LOG_TAIL_LINES = 200

# The operator's least-privilege policy: the simulator answers the operator as IAM would a principal
# holding exactly this (AccessDenied beyond it; GetFunction's Tags only with lambda:ListTags).
IAM_POLICY = Path(__file__).resolve().parents[2] / "docs" / "iam-policy.json"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simulator: needs the AWS simulator (faults, clock, call counts)")


# -- failure reports: the operator's log ---------------------------------------------------------


def _tail(log: Path, offset: int) -> str:
    if not log.exists():
        return "(no log)"
    with log.open("rb") as f:
        f.seek(offset)
        lines = f.read().decode("utf-8", "replace").splitlines()
    skipped = max(0, len(lines) - LOG_TAIL_LINES)
    return (f"... {skipped} earlier lines in {log}\n" if skipped else "") + "\n".join(lines[-LOG_TAIL_LINES:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    report: pytest.TestReport = yield
    if report.failed:
        for log, offset in item.stash.get(LOGS, []):
            report.sections.append((f"operator log {log} ({report.when})", _tail(log, offset)))
    return report


# -- targets -------------------------------------------------------------------------------------


def _env_list(name: str, minimum: int) -> list[str]:
    values = [v.strip() for v in os.environ.get(name, "").split(",") if v.strip()]
    if len(values) < minimum:
        pytest.exit(f"{name} must list at least {minimum} ids (comma-separated); see docs/testing.md", returncode=4)
    return values


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        pytest.exit(f"{name} is required with LVO_E2E_KUBECONFIG; see docs/testing.md", returncode=4)
    return value


def _refuse_foreign_context(kubeconfig: Path) -> None:
    """crate-operator's rule: never run against a cluster that is not explicitly meant for tests."""
    wanted = os.environ.get("LVO_E2E_CONTEXT", "").strip()
    current = (yaml.safe_load(kubeconfig.read_text()) or {}).get("current-context")
    if not wanted or current != wanted:
        pytest.exit(
            f"Refusing to run end-to-end tests: the current context of {kubeconfig} is {current!r}, but "
            f"LVO_E2E_CONTEXT is {wanted or 'unset'!r}. Set LVO_E2E_CONTEXT to the context of a cluster "
            "meant for tests.",
            returncode=4,
        )


def _cluster_name(target: Target) -> str:
    """What the operator uses without --cluster-name (kube/clusters.py), unless LVO_E2E_CLUSTER_NAME says."""
    given = os.environ.get("LVO_E2E_CLUSTER_NAME", "").strip()
    return given or target.derived_cluster_name([NAMESPACE_GLOB])


def _start_session_operator(target: Target, log: Path) -> None:
    target.operator_log = log
    port = free_port()  # issue 13: test_metrics.py scrapes the session operator
    target.operator = target.start_operator(
        [NAMESPACE_GLOB], log, target.resync_interval, ["--metrics-port", str(port)]
    )
    target.metrics_url = f"http://127.0.0.1:{port}/metrics"


def _emulator_target(tmp: Path) -> Iterator[Target]:
    with emulator_target(tmp, SIM_CONFIG, REGION, [NAMESPACE_GLOB], IAM_POLICY, RESYNC_INTERVAL) as target:
        control, audit = target.sim, target.kube_audit
        assert control is not None and audit is not None
        target.cluster_name = _cluster_name(target)
        _start_session_operator(target, tmp / "operator.log")
        try:
            yield target
        finally:
            if target.operator is not None:
                target.operator.stop()
        # Issue 9: no request of the operators in this suite was refused by docs/iam-policy.json
        # (the refusals of SimulatorControl.deny are the tests' own doing and not counted).
        refused = control.refused().get(OPERATOR_ACCESS_KEY, {})
        assert not refused, f"docs/iam-policy.json refuses requests the operator made: {refused}"
        # Issue 6: every request the operators made in this suite is allowed by the chart's RBAC.
        if rbac_audit.helm_available():
            requests = rbac_audit.operator_requests(audit)
            assert requests, "the emulator recorded no request of the operator"
            missing = rbac_audit.refused(requests)
            assert not missing, f"the chart's RBAC refuses requests the operator made: {missing}"


def _refuse_parallel_sessions() -> None:
    """One cluster and one account hold one session: two session operators would both serve ``e2e-*``."""
    if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1) > 1:
        pytest.exit("Refusing to run end-to-end tests against a real target from several pytest-xdist workers: "
                    "add -n 0 to the command line (docs/testing.md).", returncode=4)  # fmt: skip


def _real_target(tmp: Path, kubeconfig: Path) -> Iterator[Target]:
    _refuse_parallel_sessions()
    _refuse_foreign_context(kubeconfig)
    subnets = _env_list("LVO_E2E_SUBNETS", 3)
    groups = _env_list("LVO_E2E_SECURITY_GROUPS", 2)
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or REGION
    session = boto3.Session(region_name=region)
    ec2 = session.client("ec2", config=CLIENT_CONFIG)
    vpc_id = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
    api = manifests.api_client(kubeconfig)
    external = os.environ.get("LVO_E2E_OPERATOR", "").strip() == "external"
    target = Target(
        name="real",
        kubeconfig=kubeconfig,
        api=api,
        lambda_=session.client("lambda", config=CLIENT_CONFIG),
        ec2=ec2,
        region=region,
        account_id=session.client("sts").get_caller_identity()["Account"],
        network=Network(
            vpc_id=vpc_id,
            subnets=tuple(subnets),
            app_sg=groups[0],
            db_sg=groups[1],
            other_vpc_subnet=_required("LVO_E2E_OTHER_VPC_SUBNET"),
            other_vpc_sg=_required("LVO_E2E_OTHER_VPC_SG"),
            dedicated_subnet=os.environ.get("LVO_E2E_DEDICATED_SUBNET") or None,
            dedicated_sg=os.environ.get("LVO_E2E_DEDICATED_SG") or None,
        ),
        role_arn=_required("LVO_E2E_ROLE_ARN"),
        resync_interval=float(os.environ.get("LVO_E2E_RESYNC_INTERVAL") or RESYNC_INTERVAL),
        timeout_scale=float(os.environ.get("LVO_E2E_TIMEOUT_SCALE") or REAL_TIMEOUT_SCALE),
        operator_env={"AWS_REGION": region},
        zip_file=handler_zip(),
        session=session,
    )
    target.cluster_name = _cluster_name(target)
    if not external:
        manifests.install_crds(api)
        _start_session_operator(target, tmp / "operator.log")
    try:
        yield target
    finally:
        if target.operator is not None:
            target.operator.stop()
        target.delete_functions()


# Session scope: with no __init__.py here, pytest's "package" scope would be the session anyway.
@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("e2e")
    kubeconfig = os.environ.get("LVO_E2E_KUBECONFIG", "").strip()
    if kubeconfig:
        yield from _real_target(tmp, Path(kubeconfig).expanduser())
    else:
        yield from _emulator_target(tmp)


@pytest.fixture(autouse=True)
def _simulator_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("simulator") is not None and request.getfixturevalue("target").sim is None:
        pytest.skip("needs the AWS simulator (fault injection, clock or call counts)")


# -- per test ------------------------------------------------------------------------------------


@pytest.fixture
def make_namespace(target: Target, request: pytest.FixtureRequest) -> Iterator[Callable[[], Namespace]]:
    """Factory of fresh namespaces ``e2e-<random>``, released and deleted after the test."""
    created: list[Namespace] = []
    if target.operator_log is not None:
        watch_log(request.node, target.operator_log)

    def make(prefix: str = "e2e") -> Namespace:
        name = unique_name(prefix, 30)
        target.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        namespace = Namespace(target, name)
        created.append(namespace)
        return namespace

    yield make
    errors: list[BaseException] = []
    for namespace in created:
        try:
            namespace.release_all()
        except BaseException as exc:  # release the others anyway, then report
            errors.append(exc)
        target.core.delete_namespace(namespace.name)
    if errors:
        raise errors[0]
    assert target.operator_alive, "the operator process exited during the test"


@pytest.fixture
def ns(make_namespace: Callable[[], Namespace]) -> Namespace:
    """This test's namespace."""
    return make_namespace()


@pytest.fixture
def kube_faults(target: Target) -> Iterator[KubeControl]:
    """The Kubernetes emulator's control API (fault injection); its faults are cleared afterwards."""
    if target.kube_control is None:
        pytest.skip("needs the Kubernetes API emulator (fault injection)")
    yield target.kube_control
    target.kube_control.clear_faults()  # a test's injected faults never outlive it


@pytest.fixture
def sim(target: Target) -> Iterator[SimulatorControl]:
    """The simulator's control API; delays and rate limits go back to the session's afterwards."""
    if target.sim is None:
        pytest.skip("needs the AWS simulator (fault injection, clock or call counts)")
    yield target.sim
    target.sim.clear_faults()  # a test's injected faults never outlive it
    target.sim.set_delays(
        create=SIM_CONFIG.create_delay,
        update=SIM_CONFIG.update_delay,
        eni_create=SIM_CONFIG.eni_create_delay,
        eni_delete=SIM_CONFIG.eni_delete_delay,
    )
    target.sim.set_rate_limits(SIM_CONFIG.rate_limits_enabled, SIM_CONFIG.control_per_s, SIM_CONFIG.get_function_per_s)

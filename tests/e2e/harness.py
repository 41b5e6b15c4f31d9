"""The end-to-end harness: one ``Target`` (a cluster plus an AWS account) and helpers to drive it.

Real HTTP at every boundary: the operator, unmodified, runs as a child process and talks to the
Kubernetes API through a kubeconfig and to AWS through boto3; the tests talk to both the same way
(the ``kubernetes`` client, the kubectl binary, boto3). Nothing here imports or patches the
operator's own code paths. The same tests run against the emulators (default) or a real cluster
and a real account (``LVO_E2E_*`` variables, see docs/testing.md).

Waiting is always polling for a condition with a deadline (``wait_for``), never a fixed sleep.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import boto3
import botocore.config
import kubernetes
import pytest
import yaml

from lambda_vpc_operator.models import attachments, policies
from lambda_vpc_sandbox import manifests
from lambda_vpc_sandbox.aws import SimConfig, seed_demo_account
from lambda_vpc_sandbox.aws.control import SimulatorControl
from lambda_vpc_sandbox.aws.partners import seed_second_account
from lambda_vpc_sandbox.aws.seeding import handler_zip
from lambda_vpc_sandbox.kube.control import KubeControl
from lambda_vpc_sandbox.kube.running import EmulatorThread
from lambda_vpc_sandbox.processes import OPERATOR_ACCESS_KEY, OperatorProcess, simulated_aws_env

GROUP, VERSION, PLURAL = attachments.GROUP, attachments.VERSION, attachments.PLURAL
API_VERSION = f"{GROUP}/{VERSION}"
FINALIZER = f"{GROUP}/finalizer"
OWNER_TAG = f"{GROUP}/owner"  # models.owners.TAG
REPO = Path(__file__).resolve().parents[2]
KUBECTL = os.environ.get("LVO_E2E_KUBECTL") or str(REPO / ".tools" / "bin" / "kubectl")

T = TypeVar("T")

# Logs to show (from an offset) in the report of a failed test.
LOGS = pytest.StashKey[list[tuple[Path, int]]]()


def watch_log(item: pytest.Item, log: Path) -> None:
    """Show ``log`` from here on in the report if the test fails."""
    offset = log.stat().st_size if log.exists() else 0
    item.stash.setdefault(LOGS, []).append((log, offset))


# -- waiting -------------------------------------------------------------------------------------


class WaitTimeout(AssertionError):
    pass


def wait_for(
    probe: Callable[[], T],
    timeout: float,
    interval: float = 0.2,
    *,
    what: str = "",
    describe: Callable[[], object] | None = None,
) -> T:
    """Call ``probe`` until it returns a truthy value (returned) or stops raising AssertionError.

    On the deadline, fail with ``what``, the probe's last answer or assertion, and ``describe()``
    (typically the object's status), so that a failure says where things stood.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = probe()
        except AssertionError as exc:
            last = exc
        else:
            if result:
                return result
            last = result
        if time.monotonic() >= deadline:
            context = ""
            if describe is not None:
                try:
                    context = f"\n-- state at the deadline:\n{describe()}"
                except Exception as exc:  # a failing description must not hide the timeout
                    context = f"\n-- (could not describe the state: {exc!r})"
            raise WaitTimeout(f"Timed out after {timeout:g}s waiting for {what or probe!r}; last: {last}{context}")
        time.sleep(interval)


# -- AWS -----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Network:
    """The ids the tests attach functions to (a test VPC plus the error cases)."""

    vpc_id: str
    subnets: tuple[str, ...]  # at least three; the first two in different Availability Zones
    app_sg: str
    db_sg: str
    other_vpc_subnet: str
    other_vpc_sg: str
    dedicated_subnet: str | None = None
    dedicated_sg: str | None = None


@dataclasses.dataclass(frozen=True)
class Region:
    """A second region of the target's account (issue 12, "Regions"): its name, the harness's clients
    there (same account, credentials and endpoint) and a network of its own."""

    name: str
    lambda_: Any
    ec2: Any
    network: Network


# A real target's second region and its network (docs/testing.md); without them, the tests needing one skip.
SECOND_REGION_VARIABLES = ("LVO_E2E_SECOND_REGION", "LVO_E2E_SECOND_SUBNETS", "LVO_E2E_SECOND_SECURITY_GROUPS")


def create_network(ec2: Any, region: str, tags: Mapping[str, str] | None = None) -> Network:
    """A network for the tests in ``region`` (the simulator's second region, which nothing seeds): a VPC
    with three subnets in three Availability Zones and two groups, and another VPC with one of each.
    ``tags`` go on the first VPC's subnets and its app group (for selectors)."""
    extra = [{"Key": k, "Value": v} for k, v in (tags or {}).items()]

    def spec(kind: str, name: str, tagged: bool = False) -> list[dict[str, Any]]:
        return [{"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}, *(extra if tagged else [])]}]

    def vpc(cidr: str, name: str) -> str:
        return str(ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec("vpc", name))["Vpc"]["VpcId"])

    def subnet(vpc_id: str, cidr: str, zone: str, name: str, tagged: bool) -> str:
        found = ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=f"{region}{zone}",
                                  TagSpecifications=spec("subnet", name, tagged))  # fmt: skip
        return str(found["Subnet"]["SubnetId"])

    def group(vpc_id: str, name: str, tagged: bool) -> str:
        found = ec2.create_security_group(GroupName=name, Description=f"e2e {name}", VpcId=vpc_id,
                                          TagSpecifications=spec("security-group", name, tagged))  # fmt: skip
        return str(found["GroupId"])

    suffix = uuid.uuid4().hex[:6]
    main = vpc("10.20.0.0/16", f"e2e-{suffix}")
    other = vpc("10.21.0.0/16", f"e2e-other-{suffix}")
    return Network(
        vpc_id=main,
        subnets=tuple(subnet(main, f"10.20.{i}.0/24", zone, f"e2e-{zone}-{suffix}", True)
                      for i, zone in enumerate("abc", start=1)),
        app_sg=group(main, f"e2e-app-{suffix}", True),
        db_sg=group(main, f"e2e-db-{suffix}", False),
        other_vpc_subnet=subnet(other, "10.21.1.0/24", "a", f"e2e-other-a-{suffix}", False),
        other_vpc_sg=group(other, f"e2e-other-app-{suffix}", False),
    )  # fmt: skip


@dataclasses.dataclass(frozen=True)
class VpcView:
    """A function's VpcConfig as AWS reports it, order-free."""

    subnet_ids: frozenset[str]
    security_group_ids: frozenset[str]
    vpc_id: str
    raw: Mapping[str, Any]

    @classmethod
    def of(cls, configuration: Mapping[str, Any]) -> VpcView:
        vpc = configuration.get("VpcConfig") or {}
        return cls(
            frozenset(vpc.get("SubnetIds") or ()),
            frozenset(vpc.get("SecurityGroupIds") or ()),
            str(vpc.get("VpcId") or ""),
            dict(vpc),
        )

    @property
    def detached(self) -> bool:
        return not self.subnet_ids and not self.security_group_ids and not self.vpc_id


class OwnCalls:
    """Counts the harness's own AWS requests, so that simulator counts minus these are the operator's.

    Registered on botocore's ``needs-retry`` event, which fires once per HTTP attempt (retries
    included) with the response, exactly what the simulator counts.
    """

    def __init__(self) -> None:
        self.served: collections.Counter[str] = collections.Counter()
        self.throttled: collections.Counter[str] = collections.Counter()

    def attach(self, client: Any, service: str) -> Any:
        def record(response: Any = None, operation: Any = None, **_: Any) -> None:
            if response is None or operation is None:
                return None  # no answer (connection error): the simulator saw nothing either
            key = f"{service}:{operation.name}"
            status = getattr(response[0], "status_code", 0)
            (self.throttled if status == 429 and service == "lambda" else self.served)[key] += 1
            return None

        client.meta.events.register(f"needs-retry.{service}", record)
        return client

    def reset(self) -> None:
        self.served.clear()
        self.throttled.clear()


def _minus(total: Mapping[str, int], own: Mapping[str, int]) -> collections.Counter[str]:
    result: collections.Counter[str] = collections.Counter()
    for key, n in total.items():
        if n - own.get(key, 0) > 0:
            result[key] = n - own.get(key, 0)
    return result


# -- the target ----------------------------------------------------------------------------------


@dataclasses.dataclass
class Target:
    """A cluster and an AWS account to test against, with the operator pointed at both."""

    name: str  # "emulators" or "real"
    kubeconfig: Path
    api: kubernetes.client.ApiClient
    lambda_: Any  # boto3 Lambda client
    ec2: Any  # boto3 EC2 client
    region: str
    account_id: str
    network: Network
    role_arn: str
    resync_interval: float
    sim: SimulatorControl | None = None
    # The Kubernetes emulator's control API (fault injection); None on a real cluster.
    kube_control: KubeControl | None = None
    operator: OperatorProcess | None = None
    operator_log: Path | None = None
    operator_env: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Real AWS takes minutes where the simulator takes seconds (ENIs): every timeout is scaled.
    timeout_scale: float = 1.0
    own_calls: OwnCalls = dataclasses.field(default_factory=OwnCalls)
    functions: list[str] = dataclasses.field(default_factory=list)
    zip_file: bytes = b""
    # The operator's --cluster-name: by default what it derives itself (kube-system's uid).
    cluster_name: str = ""
    # The session operator's Prometheus endpoint (--metrics-port), when this suite started it.
    metrics_url: str | None = None
    # A second account whose roles the operator may assume (lambda_vpc_sandbox.aws.partners.PartnerAccount);
    # None on a real target.
    partner: Any = None
    # What builds the harness's clients in another region (``clients_in``): the session, and the
    # simulator's endpoint (None: AWS's own).
    session: Any = None
    endpoint_url: str | None = None
    # Functions made in other regions (name, region), deleted with the others on a real target.
    regional_functions: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    _regional_clients: dict[str, tuple[Any, Any]] = dataclasses.field(default_factory=dict)
    _second_region: Region | None = None

    def owner_tag(self, namespace: object, name: str) -> str:
        """The lambdavpc.dev/owner value the operator writes for attachment namespace/name."""
        return f"{self.cluster_name}/{namespace}/{name}"

    def derived_cluster_name(self, namespaces: Sequence[str]) -> str:
        """The cluster name an operator watching ``namespaces`` derives without --cluster-name."""
        from lambda_vpc_operator.kube import logins
        from lambda_vpc_operator.kube.clusters import derived_cluster_name
        from lambda_vpc_operator.kube.rest import KubeApi

        kubeconfig = self.kubeconfig  # the operator's own client (kube.rest) on the target's kubeconfig
        return derived_cluster_name(namespaces, KubeApi(lambda: logins.login(kubeconfig=kubeconfig), pool_size=1))

    # The Kubernetes emulator's request audit by client product token (None on a real cluster).
    kube_audit: collections.Counter[tuple[str, Any]] | None = None

    # -- time --

    def timeout(self, seconds: float) -> float:
        return seconds * self.timeout_scale

    # -- functions --

    # -- regions --

    def lambda_in(self, region: str | None = None) -> Any:
        """The harness's Lambda client in ``region`` (None: the target's own region)."""
        return self.lambda_ if region in (None, self.region) else self.clients_in(str(region))[0]

    def clients_in(self, region: str) -> tuple[Any, Any]:
        """The harness's (Lambda, EC2) clients in ``region``, built once, counted as the harness's own."""
        if region not in self._regional_clients:
            made = tuple(
                self.own_calls.attach(
                    self.session.client(service, region_name=region, endpoint_url=self.endpoint_url,
                                        config=CLIENT_CONFIG),
                    service,
                )
                for service in ("lambda", "ec2")
            )  # fmt: skip
            self._regional_clients[region] = (made[0], made[1])
        return self._regional_clients[region]

    def second_region(self) -> Region:
        """Another region of the account, with a network there: on the simulator one it creates (moto
        serves any region); on a real target the one ``LVO_E2E_SECOND_REGION`` names, with
        ``LVO_E2E_SECOND_SUBNETS`` (two or more, in two Availability Zones) and
        ``LVO_E2E_SECOND_SECURITY_GROUPS``; the test is skipped without them."""
        if self._second_region is not None:
            return self._second_region
        if self.sim is not None:
            name = "eu-west-1" if self.region != "eu-west-1" else "us-west-2"
            lambda_, ec2 = self.clients_in(name)
            network = create_network(ec2, name, {"lvo-e2e-region": name})
        else:
            name = os.environ.get("LVO_E2E_SECOND_REGION", "").strip()
            subnets = [v.strip() for v in os.environ.get("LVO_E2E_SECOND_SUBNETS", "").split(",") if v.strip()]
            groups = [v.strip() for v in os.environ.get("LVO_E2E_SECOND_SECURITY_GROUPS", "").split(",") if v.strip()]
            if not name or name == self.region or len(subnets) < 2 or not groups:
                pytest.skip(f"a second region on a real target needs {', '.join(SECOND_REGION_VARIABLES)} "
                            "(docs/testing.md)")  # fmt: skip
            lambda_, ec2 = self.clients_in(name)
            vpc_id = ec2.describe_subnets(SubnetIds=subnets[:1])["Subnets"][0]["VpcId"]
            network = Network(vpc_id, tuple(subnets), groups[0], groups[-1], "", "")
        self._second_region = Region(name, lambda_, ec2, network)
        return self._second_region

    # -- functions --

    def make_function(self, hint: str = "fn", *, region: str | None = None, name: str | None = None) -> str:
        """Create a fresh, detached, uniquely named function (in ``region``, by default the target's;
        named ``name`` if given) and wait until it is Active."""
        name = name or unique_name(f"e2e-{hint}", 64)
        self.lambda_in(region).create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=self.role_arn,
            Handler="lambda_function.handler",
            Code={"ZipFile": self.zip_file},
            Description="lambda-vpc-operator end-to-end test",
            Tags={"project": "lambda-vpc-operator-e2e"},
        )
        if region in (None, self.region):
            self.functions.append(name)
        else:
            self.regional_functions.append((name, str(region)))
        self.wait_active(name, region=region)
        return name

    def make_functions(self, hint: str, n: int) -> list[str]:
        names = []
        for _ in range(n):
            name = unique_name(f"e2e-{hint}", 64)
            self.lambda_.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=self.role_arn,
                Handler="lambda_function.handler",
                Code={"ZipFile": self.zip_file},
                Tags={"project": "lambda-vpc-operator-e2e"},
            )
            self.functions.append(name)
            names.append(name)
        for name in names:
            self.wait_active(name)
        return names

    def function_arn(self, name: str, region: str | None = None) -> str:
        return f"arn:aws:lambda:{region or self.region}:{self.account_id}:function:{name}"

    def wait_owner_tag(self, function: str, owner: str, timeout: float = 30.0, *, region: str | None = None) -> None:
        """Wait for the owner tag ``owner`` on ``function``: a fresh claim is tagged after its update
        and its report (docs/design.md "Ownership off the critical path"), so after Ready, not before."""

        def tag() -> str | None:
            found = self.lambda_in(region).list_tags(Resource=self.function_arn(function, region))["Tags"]
            return found.get(OWNER_TAG)  # type: ignore[no-any-return]

        wait_for(lambda: tag() == owner, self.timeout(timeout), what=f"owner tag {owner} on {function}", describe=tag)

    def configuration(self, name: str, region: str | None = None) -> dict[str, Any]:
        config: dict[str, Any] = self.lambda_in(region).get_function(FunctionName=name)["Configuration"]
        return config

    def vpc(self, name: str, region: str | None = None) -> VpcView:
        return VpcView.of(self.configuration(name, region))

    def wait_active(self, name: str, timeout: float = 30.0, *, region: str | None = None) -> dict[str, Any]:
        def settled() -> dict[str, Any] | None:
            config = self.configuration(name, region)
            done = config.get("State") == "Active" and config.get("LastUpdateStatus") in (None, "Successful")
            return config if done else None

        return wait_for(settled, self.timeout(timeout), 0.1, what=f"{name} Active",
                        describe=lambda: self.configuration(name, region))  # fmt: skip

    def set_vpc_out_of_band(self, name: str, subnets: Iterable[str], groups: Iterable[str]) -> dict[str, Any]:
        """Someone else changes the function's VpcConfig (console, Terraform, ...)."""
        response: dict[str, Any] = self.lambda_.update_function_configuration(
            FunctionName=name, VpcConfig={"SubnetIds": sorted(subnets), "SecurityGroupIds": sorted(groups)}
        )
        return response

    def delete_functions(self) -> None:
        for name, region in [(n, None) for n in self.functions] + list(self.regional_functions):
            with contextlib.suppress(Exception):  # best effort: the tests are over
                self.lambda_in(region).delete_function(FunctionName=name)
        self.functions.clear()
        self.regional_functions.clear()

    # -- simulator counts (the operator's requests only) --

    def reset_calls(self) -> None:
        assert self.sim is not None, "call counts need the simulator"
        self.sim.reset_calls()
        self.own_calls.reset()

    def calls(self) -> collections.Counter[str]:
        """Requests the operator sent since the last ``reset_calls``, by ``service:Operation``.

        The simulator counts per operation for the whole account, not per function: tests keep
        only their own attachments alive (one namespace each, released before the next test).
        """
        assert self.sim is not None, "call counts need the simulator"
        return _minus(self.sim.calls(), self.own_calls.served)

    def throttled(self) -> collections.Counter[str]:
        """Operator requests the simulator answered 429 TooManyRequests, by ``service:Operation``."""
        assert self.sim is not None, "call counts need the simulator"
        return _minus(self.sim.throttled(), self.own_calls.throttled)

    def updates(self) -> int:
        return self.calls()["lambda:UpdateFunctionConfiguration"]

    def reads(self) -> int:
        return self.calls()["lambda:GetFunction"]

    def wait_reads(self, n: int, timeout: float = 30.0) -> None:
        """Wait until the operator has sent ``n`` more GetFunction requests (resyncs, polls)."""
        if self.sim is None:
            time.sleep(n * self.resync_interval)  # a real account has no counters: a window instead
            return
        start = self.reads()
        wait_for(lambda: self.reads() >= start + n, self.timeout(timeout), 0.1,
                 what=f"{n} more GetFunction requests from the operator (from {start})",
                 describe=self.calls)  # fmt: skip

    def status_writes(self) -> int:
        """Writes of attachments' status by the operator so far (the emulator's audit)."""
        assert self.kube_audit is not None, "write counts need the Kubernetes emulator"
        return sum(
            n for (agent, key), n in list(self.kube_audit.items())
            if agent in ("kopf", "lambda-vpc-operator") and key.resource == PLURAL and key.subresource == "status"
            and key.verb in ("patch", "update")
        )  # fmt: skip

    # -- the operator --

    @property
    def operator_alive(self) -> bool:
        return self.operator is None or self.operator.running

    def start_operator(
        self,
        namespaces: Iterable[str],
        log: Path,
        resync_interval: float,
        extra_args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> OperatorProcess:
        """Another operator process, e.g. for a namespace the session operator does not watch."""
        args: list[str] = list(extra_args)
        for namespace in namespaces:
            args += ["--namespace", namespace]
        args += ["--resync-interval", f"{resync_interval:g}", "--region", self.region]
        if "--log-format" not in args:
            args += ["--log-format", "plain"]
        if "--lifecycle-interval" not in args:
            # The suite changes State without a new RevisionId (idle functions, set_state) and waits for the
            # operator's GetFunctions (wait_reads): every look reads State, as before the observer.
            # test_observer.py runs the default (aws.observer serves steady looks from its sweep).
            args += ["--lifecycle-interval", os.environ.get("LVO_E2E_LIFECYCLE_INTERVAL") or "0"]
        if "--alias-interval" not in args:
            # Likewise aliases (tests/e2e/test_aliases.py moves them and waits for the next resync).
            args += ["--alias-interval", "0"]
        # These tests are about attachments, not tenancy: no LambdaVpcPolicy needed (docs/policy.md).
        args += ["--policy-mode", "allow-all"]
        return OperatorProcess(self.kubeconfig, {**self.operator_env, **(env or {})}, args, log_path=log).start()

    @contextlib.contextmanager
    def operator_alone(
        self, prefix: str, log: Path, resync_interval: float, extra_args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> Iterator[tuple[Namespace, OperatorProcess]]:  # fmt: skip
        """An operator of its own in a namespace of its own (outside the session operator's e2e-*):
        afterwards its attachments are released, the operator stops and the namespace goes."""
        name = unique_name(prefix, 30)
        self.core.create_namespace({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        try:
            operator = self.start_operator([name], log, resync_interval, extra_args, env=env)
            try:
                ns = Namespace(self, name)
                yield ns, operator
                ns.release_all()
            finally:
                operator.stop()
        finally:
            self.core.delete_namespace(name)

    # -- the cluster --

    @property
    def custom(self) -> Any:
        return kubernetes.client.CustomObjectsApi(self.api)

    @property
    def core(self) -> Any:
        return kubernetes.client.CoreV1Api(self.api)

    def kubectl(self, *args: str, stdin: str | None = None, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig)}
        return subprocess.run(
            [KUBECTL, *args], input=stdin, capture_output=True, text=True, env=env, timeout=self.timeout(timeout)
        )


def free_port() -> int:
    """A TCP port free on loopback now (for an operator's metrics or webhook)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def simulator_process(log: Path, startup_timeout: float = 60.0) -> Iterator[str]:
    """The AWS simulator (``python -m lambda_vpc_sandbox.aws --no-seed``) as a child process; its URL.

    Not in this process: moto's backends are process-global (aws-facts "moto 5.2"), and under
    pytest-xdist the same worker also runs tests/sandbox and tests/unit, whose moto resets would
    wipe this session's account. The harness drives it over HTTP only (boto3, ``SimulatorControl``).
    """
    # No default AMIs: moto loads ~1300 on every reset, and no test here starts an instance.
    env = {**os.environ, "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}
    command = [sys.executable, "-m", "lambda_vpc_sandbox.aws", "--port", "0", "--no-seed"]
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors, env=env)
        try:
            assert process.stdout is not None
            lines: list[str] = []
            deadline = time.monotonic() + startup_timeout
            while not (lines and lines[-1].rstrip() == "}"):  # its endpoint, as indented JSON
                line = process.stdout.readline().decode()
                if not line or time.monotonic() > deadline:
                    raise RuntimeError(f"the AWS simulator did not start: {log.read_text()[-2000:]}")
                lines.append(line)
            yield str(json.loads("".join(lines))["endpoint_url"])
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


CLIENT_CONFIG = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 10})
HELM = REPO / ".tools" / "bin" / "helm"
CHART = REPO / "charts" / "lambda-vpc-operator"


@contextlib.contextmanager
def emulator_target(
    tmp: Path,
    sim_config: SimConfig,
    region: str,
    namespaces: Sequence[str],
    iam_policy: Path | None,
    resync_interval: float,
) -> Iterator[Target]:
    """The Kubernetes emulator in this process and the AWS simulator in a child process
    (``simulator_process``), a seeded demo account, our CRDs, and a Target for them with no operator
    yet (``Target.start_operator`` starts them).

    The simulator holds the operator's access key to ``iam_policy``, as IAM would; the harness's own
    "testing" key stays unrestricted. ``namespaces`` (the operators' --namespace) name the cluster
    as the operator derives it, for ``Target.owner_tag``.
    """
    with EmulatorThread(kubeconfig_path=tmp / "kubeconfig") as kube, simulator_process(tmp / "aws.log") as aws_url:
        control = SimulatorControl(aws_url)
        control.reset()  # the config back to the simulator's defaults, then ``sim_config``'s delays
        control.set_delays(
            create=sim_config.create_delay,
            update=sim_config.update_delay,
            eni_create=sim_config.eni_create_delay,
            eni_delete=sim_config.eni_delete_delay,
        )
        control.set_rate_limits(sim_config.rate_limits_enabled, sim_config.control_per_s, sim_config.get_function_per_s)
        assert control.config() == sim_config.to_dict(), "the simulator does not run the wanted SimConfig"
        demo = seed_demo_account(aws_url, region)
        policy = json.loads(iam_policy.read_text()) if iam_policy is not None else None
        if policy is not None:
            control.set_principal_policy(OPERATOR_ACCESS_KEY, policy)
        # A second account, whose roles grant the operator the same policy there (test_accounts).
        partner = seed_second_account(aws_url, region, operator_policy=policy)
        api = manifests.api_client(kube.kubeconfig_path)
        manifests.install_crds(api)
        session = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", aws_session_token="testing",
            region_name=region,
        )  # fmt: skip
        target = Target(
            name="emulators",
            kubeconfig=kube.kubeconfig_path,
            kube_audit=kube.emulator.audit_by_agent,
            kube_control=kube.control,
            api=api,
            lambda_=session.client("lambda", endpoint_url=aws_url, config=CLIENT_CONFIG),
            ec2=session.client("ec2", endpoint_url=aws_url, config=CLIENT_CONFIG),
            region=region,
            account_id=demo.account_id,
            network=Network(
                vpc_id=demo.vpc_id,
                subnets=demo.private_subnet_ids,
                app_sg=demo.app_sg_id,
                db_sg=demo.db_sg_id,
                other_vpc_subnet=demo.second_subnet_id,
                other_vpc_sg=demo.second_sg_id,
                dedicated_subnet=demo.dedicated_subnet_id,
                dedicated_sg=demo.dedicated_sg_id,
            ),
            role_arn=demo.role_arn,
            resync_interval=resync_interval,
            sim=control,
            operator_env=simulated_aws_env(aws_url, region),
            zip_file=handler_zip(),
        )
        target.partner = partner
        target.session, target.endpoint_url = session, aws_url
        target.cluster_name = target.derived_cluster_name(list(namespaces))
        target.own_calls.attach(target.lambda_, "lambda")
        target.own_calls.attach(target.ec2, "ec2")
        yield target


def peering_crds() -> list[dict[str, Any]]:
    """kopf's peering CRDs exactly as the chart ships them (rendered with replicas > 1)."""
    if not HELM.exists():
        pytest.skip("helm is not installed: run `make tools`")
    rendered = subprocess.run(
        [str(HELM), "template", "x", str(CHART), "--set", "replicas=2", "--show-only", "templates/peering.yaml"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return [d for d in yaml.safe_load_all(rendered) if d]


def install_peering_crds(api: kubernetes.client.ApiClient) -> None:
    extensions: Any = kubernetes.client.ApiextensionsV1Api(api)
    for crd in peering_crds():
        try:
            extensions.create_custom_resource_definition(crd)
        except kubernetes.client.ApiException as exc:
            if exc.status != 409:
                raise


def unique_name(prefix: str, limit: int = 63) -> str:
    return f"{prefix[: limit - 9]}-{uuid.uuid4().hex[:8]}"


# -- attachments ---------------------------------------------------------------------------------


def condition(obj: Mapping[str, Any] | None, type_: str) -> dict[str, Any]:
    for cond in ((obj or {}).get("status") or {}).get("conditions") or ():
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def conditions_summary(obj: Mapping[str, Any] | None) -> str:
    if obj is None:
        return "(object gone)"
    meta = obj.get("metadata") or {}
    status = dict(obj.get("status") or {})
    lines = [f"generation={meta.get('generation')} deletionTimestamp={meta.get('deletionTimestamp')} "
             f"finalizers={meta.get('finalizers')}"]  # fmt: skip
    for cond in status.pop("conditions", None) or ():
        lines.append(f"  {cond.get('type')}={cond.get('status')} {cond.get('reason')} "
                     f"(gen {cond.get('observedGeneration')}): {cond.get('message')}")  # fmt: skip
    lines.append(f"  status: {status}")
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Event:
    reason: str
    type: str
    message: str
    count: int


class Namespace:
    """One test's namespace: apply, read, wait for and delete attachments in it."""

    def __init__(self, target: Target, name: str) -> None:
        self.target = target
        self.name = name

    def __str__(self) -> str:
        return self.name

    # -- objects --

    def body(
        self,
        name: str,
        function: str,
        subnets: Iterable[str],
        groups: Iterable[str],
        **spec: Any,
    ) -> dict[str, Any]:
        return {
            "apiVersion": API_VERSION,
            "kind": attachments.KIND,
            "metadata": {"name": name, "namespace": self.name},
            "spec": {"functionName": function, "subnetIds": list(subnets), "securityGroupIds": list(groups), **spec},
        }

    def create(
        self, name: str, function: str, subnets: Iterable[str], groups: Iterable[str], **spec: Any
    ) -> dict[str, Any]:
        created: dict[str, Any] = self.target.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.name, PLURAL, self.body(name, function, subnets, groups, **spec)
        )
        return created

    def patch_spec(self, name: str, **spec: Any) -> dict[str, Any]:
        patched: dict[str, Any] = self.target.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.name, PLURAL, name, {"spec": spec}
        )
        return patched

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.target.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.name, PLURAL, name
            )
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return obj

    def list(self) -> list[dict[str, Any]]:
        listing = self.target.custom.list_namespaced_custom_object(GROUP, VERSION, self.name, PLURAL)
        items: list[dict[str, Any]] = listing.get("items", [])
        return items

    def delete(self, name: str) -> None:
        try:
            self.target.custom.delete_namespaced_custom_object(GROUP, VERSION, self.name, PLURAL, name)
        except kubernetes.client.ApiException as exc:
            if exc.status != 404:
                raise

    def describe(self, name: str) -> str:
        text = conditions_summary(self.get(name))
        events = "\n".join(f"  event {e.type} {e.reason} x{e.count}: {e.message}" for e in self.events(name))
        return f"{self.name}/{name}: {text}\n{events}"

    # -- waiting --

    def wait(
        self,
        name: str,
        check: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float = 30.0,
        interval: float = 0.1,
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            obj = self.get(name)
            return obj if obj is not None and check(obj) else None

        try:
            return wait_for(probe, self.target.timeout(timeout), interval, what=f"{self.name}/{name}: {what}",
                            describe=lambda: self.describe(name))  # fmt: skip
        except WaitTimeout:
            if self.target.operator is not None:
                self.target.operator.dump_tasks()  # where the session operator waits, in its log
            raise

    def wait_condition(
        self, name: str, type_: str, status: str, reason: str | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        """Wait for a condition of the current generation (kstatus: observedGeneration caught up)."""

        def check(obj: dict[str, Any]) -> bool:
            generation = obj["metadata"].get("generation")
            cond = condition(obj, type_)
            return (
                (obj.get("status") or {}).get("observedGeneration") == generation
                and cond.get("observedGeneration") == generation
                and cond.get("status") == status
                and (reason is None or cond.get("reason") == reason)
            )

        return self.wait(name, check, f"{type_}={status}" + (f" reason {reason}" if reason else ""), timeout)

    def wait_ready(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_condition(name, "Ready", "True", "Attached", timeout)

    def wait_stalled(self, name: str, reason: str, timeout: float = 30.0) -> dict[str, Any]:
        return self.wait_condition(name, "Stalled", "True", reason, timeout)

    def wait_gone(self, name: str, timeout: float = 30.0) -> None:
        wait_for(lambda: self.get(name) is None, self.target.timeout(timeout), 0.1,
                 what=f"{self.name}/{name} to be deleted", describe=lambda: self.describe(name))  # fmt: skip

    # -- events --

    def events(self, name: str) -> list[Event]:
        listing = self.target.core.list_namespaced_event(self.name, field_selector=f"involvedObject.name={name}")
        return [
            Event(e.reason or "", e.type or "", e.message or "", int(e.count or 1))
            for e in sorted(listing.items, key=lambda e: (e.metadata.creation_timestamp or 0, e.metadata.name))
        ]

    def event_reasons(self, name: str) -> collections.Counter[str]:
        return collections.Counter({r: n for r, n in _sum_events(self.events(name)).items()})

    def wait_event(self, name: str, reason: str, timeout: float = 30.0) -> Event:
        def probe() -> Event | None:
            return next((e for e in self.events(name) if e.reason == reason), None)

        return wait_for(probe, self.target.timeout(timeout), 0.1, what=f"Event {reason} on {self.name}/{name}",
                        describe=lambda: self.describe(name))  # fmt: skip

    # -- cleanup --

    def release_all(self, timeout: float = 60.0) -> None:
        """Delete every attachment and wait until the operator has let each go.

        Cleanup retains: the test's functions are its own and thrown away, so a detach (one more
        update to wait for per attachment) would only slow the suite down; test_deleting covers it.
        """
        for obj in self.list():
            name = obj["metadata"]["name"]
            if not obj["metadata"].get("deletionTimestamp") and obj["spec"].get("deletionPolicy") != "Retain":
                try:
                    self.patch_spec(name, deletionPolicy="Retain")
                except kubernetes.client.ApiException as exc:
                    if exc.status != 404:
                        raise
            self.delete(name)

        def empty() -> bool:
            return not self.list()

        try:
            wait_for(empty, self.target.timeout(timeout), 0.2, what=f"every attachment in {self.name} released",
                     describe=lambda: "\n".join(self.describe(o["metadata"]["name"]) for o in self.list()))  # fmt: skip
        except WaitTimeout:
            # Leave nothing behind for the next test, then report the operator's failure.
            for obj in self.list():
                self.target.custom.patch_namespaced_custom_object(
                    GROUP, VERSION, self.name, PLURAL, obj["metadata"]["name"], {"metadata": {"finalizers": None}}
                )
            raise


def _sum_events(events: Iterable[Event]) -> dict[str, int]:
    counts: dict[str, int] = collections.defaultdict(int)
    for event in events:
        counts[event.reason] += event.count
    return dict(counts)


@contextlib.contextmanager
def policies_made(target: Target) -> Iterator[Callable[..., str]]:
    """A factory of LambdaVpcPolicy objects (cluster-scoped): ``make(hint, selector, **spec)`` returns
    the new policy's name; every policy it made is deleted on the way out."""
    created: list[str] = []

    def make(hint: str, selector: dict[str, Any], **spec: Any) -> str:
        name = unique_name(f"e2e-{hint}", 60)
        body = {"apiVersion": API_VERSION, "kind": policies.KIND, "metadata": {"name": name},
                "spec": {"namespaceSelector": selector, **spec}}  # fmt: skip
        target.custom.create_cluster_custom_object(GROUP, VERSION, policies.PLURAL, body)
        created.append(name)
        return name

    try:
        yield make
    finally:
        for name in created:
            try:
                target.custom.delete_cluster_custom_object(GROUP, VERSION, policies.PLURAL, name)
            except kubernetes.client.ApiException as exc:
                if exc.status != 404:
                    raise

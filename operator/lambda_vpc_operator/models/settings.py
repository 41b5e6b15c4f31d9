"""The operator's own settings, from the command line (and so from the Helm chart's values)."""

from __future__ import annotations

import dataclasses
import enum

from lambda_vpc_operator.models.policies import PolicyMode

# Threads that run the blocking requests (boto3's, our status writes over kube.rest): the event
# loop's default executor. Each client's connection pool holds as many, or a burst of looks makes
# urllib3 discard and reopen connections ("Connection pool is full", seen at 5,000 attachments).
IO_THREADS = 32

# Steady attachments are re-read this often to notice drift and Inactive functions. GetFunction
# has its own 100 requests/s bucket (aws-facts), so 10 minutes costs 1,000 functions ~1.7 req/s.
DEFAULT_RESYNC_INTERVAL = 600.0
# A steady function's State (which ListFunctions omits) is read with GetFunction this often (aws.observer).
# Inactive comes after 14 idle days (aws-facts "Inactive functions"): an hour's delay costs nothing.
DEFAULT_LIFECYCLE_INTERVAL = 3600.0
# A steady function's aliases (AliasesCurrent, informational) are read again this often: a ListAliases
# each from the shared 15/s budget, the largest cost at rest when it ran at every resync.
DEFAULT_ALIAS_INTERVAL = 3600.0


class RoleCheck(enum.StrEnum):
    """What the execution-role preflight (iam:SimulatePrincipalPolicy) may do (docs/policy.md).

    The simulation runs without resource ARNs or context, so a role whose ENI permissions are
    scoped to resources or carry conditions shows implicitDeny although Lambda accepts it; AWS'
    refusal at the call is the authority (aws-facts "Refusals").
    """

    AUTO = "auto"  # a missing permission is a warning (Event, NetworkReady message); the update goes on
    REQUIRE = "require"  # a missing permission stalls the attachment (RoleMissingPermissions), no write
    OFF = "off"  # no SimulatePrincipalPolicy call at all


class LogFormat(enum.StrEnum):
    PLAIN = "plain"
    FULL = "full"
    JSON = "json"


@dataclasses.dataclass(frozen=True)
class WatchSettings:
    """kopf's watch-stream timeouts (docs/design.md "Watch streams that die silently").

    A watch connection can die without a word (a NAT or load balancer forgetting the flow, an API
    server gone away without a FIN): the stream stays open and silent, and changes to attachments
    are never seen until it ends. These bound that: ``inactivity`` ends a stream that carried
    nothing, not even a BOOKMARK, for that long (API servers send one about every minute to
    watches that allow them, kopf does); ``server`` asks the API server to end each stream cleanly
    (timeoutSeconds, as client-go's 5 to 10 minutes); ``client`` ends any stream on our side, a
    backstop above ``server``; ``connect`` gives up a connection attempt that hangs.
    """

    server_timeout: float = 300.0
    client_timeout: float = 330.0
    inactivity_timeout: float = 70.0
    connect_timeout: float = 10.0


@dataclasses.dataclass(frozen=True)
class OperatorSettings:
    default_region: str = "us-east-1"
    resync_interval: float = DEFAULT_RESYNC_INTERVAL
    lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL
    alias_interval: float = DEFAULT_ALIAS_INTERVAL
    namespaces: tuple[str, ...] = ()  # empty: every namespace (cluster-wide)
    # Our share of the account's 15 requests/s for Lambda control-plane calls (aws-facts).
    control_rate: float = 10.0
    get_function_rate: float = 50.0
    # Our share of EC2's 20 requests/s refill for the Describe* we send (aws-facts "EC2 request buckets").
    ec2_rate: float = 10.0
    log_format: LogFormat = LogFormat.FULL
    liveness_endpoint: str | None = None
    standalone: bool = True  # no kopf peering (one replica, Deployment strategy Recreate)
    priority: int = 0
    peering_name: str = "lambda-vpc-operator"
    # Seconds a replica's peering record counts as alive (kopf renews it 5-10 s before): a standby
    # takes over at most this long after the active replica was killed. kopf's default is 60.
    peering_lifetime: int = 30
    # Before a second reactivation invoke, the first gets this long (doubling per attempt).
    reactivation_window: float = 60.0
    # Consecutive looks that raised (ReconcileError) before the attachment is Stalled (planner.errors).
    stall_after_errors: int = 10
    # Tenant policy (docs/policy.md): what a namespace no LambdaVpcPolicy selects may do.
    policy_mode: PolicyMode = PolicyMode.ENFORCE
    # This installation's name in the owner tag of every function it manages (models.owners); the
    # CLI derives it from the cluster (kube-system's uid) when not given. None: tags of an older release.
    cluster_name: str | None = None
    # The execution-role preflight: advice (auto), a hard stall (require) or nothing (off).
    role_check: RoleCheck = RoleCheck.AUTO
    # The validating admission webhook; None: not served (the reconciler still enforces the policy).
    webhook: WebhookSettings | None = None
    watching: WatchSettings = WatchSettings()


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    """Where kopf's WebhookServer listens (HTTPS, the API server requires it) and its certificate."""

    port: int
    host: str = "0.0.0.0"
    certfile: str | None = None  # PEM; cert-manager's tls.crt, re-read when it changes
    keyfile: str | None = None
    cafile: str | None = None  # the CA the API server trusts (caBundle), if not the certificate itself

"""The Helm chart as helm renders it: lint, valid Kubernetes 1.32 objects, and each value's effect.

Every scenario is rendered by the real helm 3.17 binary and every built-in object is validated by
kubernetes-validate's strict 1.32 schemas (unknown fields fail). Custom kinds of other projects
(cert-manager, the Prometheus Operator) have no schema there: the test names them so that nothing
else slips through unvalidated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest

from shipping import KUBERNETES_VERSION, NAMESPACE, RELEASE, SERVICE_ACCOUNT, HelmFailed, find

Render = Callable[..., list[dict[str, Any]]]

SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
PROMETHEUS_RULE_API = "monitoring.coreos.com/v1/PrometheusRule"
FULLNAME = f"{RELEASE}-lambda-vpc-operator"
ROLE_ARN = "arn:aws:iam::123456789012:role/lambda-vpc-operator"
CA_BUNDLE = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg=="  # base64 of a PEM header: shape only

# Every value set to something other than its default, so that each template branch renders.
EVERYTHING: dict[str, Any] = {
    "replicas": 2,
    "image": {"repository": "registry.example.com/lvo", "digest": "sha256:" + "a" * 64, "pullPolicy": "Always"},
    "imagePullSecrets": [{"name": "regcred"}],
    "watchNamespaces": ["team-a", "team-b"],
    "region": "eu-west-1",
    "clusterName": "prod-eu",
    "resyncInterval": 120.5,
    "lifecycleInterval": 1800,
    "aliasInterval": 900,
    "controlRate": 5,
    "getFunctionRate": 20,
    "ec2Rate": 4,
    "logFormat": "plain",
    "policyMode": "allow-all",
    "roleCheck": "require",
    "extraArgs": ["--verbose"],
    "env": [
        {"name": "AWS_STS_REGIONAL_ENDPOINTS", "value": "regional"},
        {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
    ],
    "envFrom": [{"configMapRef": {"name": "lvo-extra"}}],
    "peering": {"installCRDs": False},
    "serviceAccount": {"create": True, "name": "lvo", "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}},
    "rbac": {"create": True},
    "podAnnotations": {"example.com/team": "platform"},
    "podLabels": {"team": "platform"},
    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": 2, "memory": "1Gi"}},
    "tmpSizeLimit": "128Mi",
    "probes": {
        "port": 8081,
        "liveness": {"initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
        "readiness": {"port": 8083, "periodSeconds": 7, "timeoutSeconds": 2, "failureThreshold": 4},
    },
    "terminationGracePeriodSeconds": 90,
    "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}},
    "podDisruptionBudget": {"maxUnavailable": "50%"},
    "priorityClassName": "system-cluster-critical",
    "nodeSelector": {"kubernetes.io/os": "linux"},
    "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
    "affinity": {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "x"}},
                    },
                }
            ]
        }
    },
    "topologySpreadConstraints": [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
    ],
    "metrics": {
        "enabled": True,
        "port": 9091,
        "service": {"annotations": {"a": "b"}},
        "serviceMonitor": {
            "enabled": True,
            "interval": "1m",
            "scrapeTimeout": "20s",
            "labels": {"release": "prometheus"},
        },
        "prometheusRule": {
            "enabled": True,
            "labels": {"release": "prometheus"},
            "stalledFor": "30m",
            "throttlesPerSecond": 0.5,
            "slowNetworkReadySeconds": 600,
        },
    },
    "webhook": {
        "enabled": True,
        "port": 8443,
        "path": "/validate",
        "failurePolicy": "Fail",
        "matchConditions": False,
        "timeoutSeconds": 5,
        "certManager": {
            "enabled": True,
            "issuerRef": {"kind": "ClusterIssuer", "name": "ca"},
            "duration": "720h",
            "renewBefore": "240h",
        },
    },
}

# name -> (values, api versions, the foreign kinds this scenario renders)
SCENARIOS: dict[str, tuple[dict[str, Any], list[str], set[str]]] = {
    "default": ({}, [], set()),
    "ha": ({"replicas": 3}, [], set()),
    "namespaced": ({"watchNamespaces": ["team-a", "team-b"]}, [], set()),
    "namespaced-ha": ({"watchNamespaces": ["team-a"], "replicas": 2}, [], set()),
    "shard": ({"watchNamespaces": ["team-a-*", "team-*,!team-a-*"]}, [], set()),
    "irsa": ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN}}}, [], set()),
    "metrics-servicemonitor": (
        {"metrics": {"serviceMonitor": {"enabled": True}}},
        [SERVICE_MONITOR_API],
        {"ServiceMonitor"},
    ),
    "metrics-prometheusrule": (
        {"metrics": {"prometheusRule": {"enabled": True}}},
        [PROMETHEUS_RULE_API],
        {"PrometheusRule"},
    ),
    "webhook-cert-manager": ({"webhook": {"enabled": True}}, [], {"Certificate", "Issuer"}),
    "webhook-own-certificate": (
        {
            "webhook": {
                "enabled": True,
                "certManager": {"enabled": False},
                "tls": {"secretName": "lvo-webhook-tls", "caBundle": CA_BUNDLE},
            }
        },
        [],
        set(),
    ),
    "everything": (
        EVERYTHING, [SERVICE_MONITOR_API, PROMETHEUS_RULE_API], {"Certificate", "ServiceMonitor", "PrometheusRule"}
    ),
}
SCENARIO_IDS = list(SCENARIOS)


def deployment(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = find(manifests, "Deployment")
    return found


def container(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    (found,) = deployment(manifests)["spec"]["template"]["spec"]["containers"]
    return dict(found)


def args_of(manifests: list[dict[str, Any]]) -> list[str]:
    return [str(arg) for arg in container(manifests)["args"]]


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_helm_lint_strict(lint: Callable[..., str], scenario: str) -> None:
    values, _, _ = SCENARIOS[scenario]
    assert "0 chart(s) failed" in lint(values)


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_rendered_objects_are_valid_kubernetes(render: Render, scenario: str) -> None:
    values, api_versions, foreign = SCENARIOS[scenario]
    unvalidated: set[str] = set()
    for manifest in render(values, api_versions=api_versions, include_crds=True):
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.add(manifest["kind"])
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{manifest['kind']}/{manifest['metadata']['name']}: {exc.message} at {list(exc.path)}")
    assert unvalidated == foreign


@pytest.mark.parametrize("scenario", SCENARIO_IDS)
def test_namespaced_objects_go_to_the_release_namespace(render: Render, scenario: str) -> None:
    values, api_versions, _ = SCENARIOS[scenario]
    per_namespace_rbac = {"Role", "RoleBinding"}  # these go to the watched namespaces
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "ValidatingWebhookConfiguration"}
    for manifest in render(values, api_versions=api_versions):
        kind, meta = manifest["kind"], manifest["metadata"]
        if kind in cluster_scoped:
            assert "namespace" not in meta, kind
        elif kind in per_namespace_rbac:
            assert meta["namespace"] in values["watchNamespaces"]
        else:
            assert meta["namespace"] == NAMESPACE, kind


def test_defaults_are_one_hardened_pod_without_peering(render: Render) -> None:
    manifests = render()
    spec = deployment(manifests)["spec"]
    pod = spec["template"]["spec"]
    main = container(manifests)

    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}  # never two unpeered operators at once
    assert not find(manifests, "PodDisruptionBudget")
    assert not find(manifests, "CustomResourceDefinition")  # no peering CRDs
    assert "--peering" not in args_of(manifests)

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    security = main["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["runAsNonRoot"] is True
    assert security["runAsUser"] == 65532
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security.get("privileged") in (None, False)

    # The only writable place: /tmp, an emptyDir with a size limit.
    (tmp,) = [m for m in main["volumeMounts"] if m["mountPath"] == "/tmp"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == tmp["name"]]
    assert volume["emptyDir"]["sizeLimit"] == "64Mi"

    assert set(main["resources"]["requests"]) == {"cpu", "memory"}
    assert set(main["resources"]["limits"]) == {"cpu", "memory"}
    assert main["image"].endswith(":0.1.0")


def test_liveness_probe_asks_kopfs_endpoint(render: Render) -> None:
    main = container(render())
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert "--liveness=http://0.0.0.0:8080/healthz" in main["args"]
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert ports["health"] == 8080


def test_readiness_probe_waits_for_the_indexes_with_one_replica_only(render: Render) -> None:
    main = container(render())
    ports = {port["name"]: port["containerPort"] for port in main["ports"]}
    assert "--readiness=http://0.0.0.0:8082/readyz" in main["args"]
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "readiness"}
    assert ports["readiness"] == 8082
    # With peering a standby never loads its indexes: a readiness probe would block every rollout.
    assert "readinessProbe" not in container(render({"replicas": 2}))


def test_pod_id_names_the_pod_for_kopf(render: Render) -> None:
    env = {item["name"]: item for item in container(render())["env"]}
    assert env["POD_ID"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}


@pytest.mark.parametrize("replicas", [2, 3])
def test_replicas_turn_on_peering_with_a_random_priority_and_a_pdb(render: Render, replicas: int) -> None:
    manifests = render({"replicas": replicas})
    args = args_of(manifests)
    assert "--peering" in args
    assert "--priority=random" in args  # equal priorities would pause every replica (kopf)
    assert deployment(manifests)["spec"]["strategy"]["type"] == "RollingUpdate"
    (pdb,) = find(manifests, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == deployment(manifests)["spec"]["selector"]["matchLabels"]
    crds = {crd["metadata"]["name"]: crd for crd in find(manifests, "CustomResourceDefinition")}
    assert set(crds) == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
    # Shared by every kopf operator of the cluster: uninstalling this release must not remove them.
    assert all(crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep" for crd in crds.values())


def test_peering_crds_can_be_left_to_another_release(render: Render) -> None:
    manifests = render({"replicas": 2, "peering": {"installCRDs": False}})
    assert not find(manifests, "CustomResourceDefinition")
    assert "--peering" in args_of(manifests)


def test_an_explicit_update_strategy_wins(render: Render) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    assert deployment(render({"updateStrategy": strategy}))["spec"]["strategy"] == strategy


def test_values_become_operator_flags(render: Render) -> None:
    args = args_of(render(EVERYTHING, api_versions=[SERVICE_MONITOR_API]))
    assert args[0] == "run"
    for flag in [
        "--namespace=team-a",
        "--namespace=team-b",
        "--region=eu-west-1",
        "--cluster-name=prod-eu",
        "--resync-interval=120.5",
        "--lifecycle-interval=1800",
        "--alias-interval=900",
        "--control-rate=5",
        "--get-function-rate=20",
        "--ec2-rate=4",
        "--log-format=plain",
        "--policy-mode=allow-all",
        "--role-check=require",
        "--liveness=http://0.0.0.0:8081/healthz",
        "--readiness=http://0.0.0.0:8083/readyz",
    ]:
        assert flag in args
    assert args[-1] == "--verbose"  # extraArgs last, so they can override


def test_no_region_flag_by_default(render: Render) -> None:
    # Without --region the operator reads AWS_REGION (IRSA's webhook sets it), else us-east-1.
    assert not [arg for arg in args_of(render()) if arg.startswith("--region")]


def test_cluster_name_or_the_right_to_derive_it(render: Render) -> None:
    # Without clusterName the operator reads kube-system's uid: RBAC allows that one get, nothing more.
    def kube_system_rules(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for role in find(manifests, "ClusterRole") for r in role["rules"] if r.get("resourceNames")
                == ["kube-system"]]  # fmt: skip

    derived = render()
    assert not [arg for arg in args_of(derived) if arg.startswith("--cluster-name")]
    assert kube_system_rules(derived) == [
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"], "verbs": ["get"]}
    ]
    named = render({"clusterName": "prod-eu"})
    assert "--cluster-name=prod-eu" in args_of(named) and kube_system_rules(named) == []


def test_service_account_carries_the_irsa_role(render: Render) -> None:
    manifests = render(SCENARIOS["irsa"][0])
    (account,) = find(manifests, "ServiceAccount")
    assert account["metadata"]["name"] == SERVICE_ACCOUNT
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN}
    assert deployment(manifests)["spec"]["template"]["spec"]["serviceAccountName"] == SERVICE_ACCOUNT


def test_an_existing_service_account_must_be_named(render: Render) -> None:
    with pytest.raises(HelmFailed, match=r"serviceAccount.name is required"):
        render({"serviceAccount": {"create": False}})
    manifests = render({"serviceAccount": {"create": False, "name": "existing"}})
    assert not find(manifests, "ServiceAccount")
    assert deployment(manifests)["spec"]["template"]["spec"]["serviceAccountName"] == "existing"
    (binding,) = find(manifests, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "existing", "namespace": NAMESPACE}]


def test_rbac_can_be_left_to_the_user(render: Render) -> None:
    manifests = render({"rbac": {"create": False}})
    assert not {m["kind"] for m in manifests} & {"ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}


def test_a_shard_watches_patterns_with_a_cluster_role(render: Render) -> None:
    # docs/install.md "Sharding by namespace": a pattern's namespaces are unknown at render time.
    manifests = render({"watchNamespaces": ["team-a-*", "team-*,!team-a-*"]})
    assert not find(manifests, "Role") and not find(manifests, "RoleBinding")
    (cluster_role,) = find(manifests, "ClusterRole")
    resources = {res for rule in cluster_role["rules"] for res in rule["resources"]}
    assert {"lambdavpcattachments", "lambdavpcattachments/status", "events"} <= resources
    assert not {"clusterkopfpeerings", "kopfpeerings"} & resources
    args = args_of(manifests)
    assert "--namespace=team-a-*" in args and "--namespace=team-*,!team-a-*" in args


def test_a_shard_refuses_peering(render: Render) -> None:
    with pytest.raises(HelmFailed, match="needs replicas: 1"):
        render({"watchNamespaces": ["team-*"], "replicas": 2})


def test_namespaced_install_uses_roles_in_each_namespace(render: Render) -> None:
    manifests = render({"watchNamespaces": ["team-a", "team-b"]})
    roles = find(manifests, "Role")
    bindings = find(manifests, "RoleBinding")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for role in roles:
        assert {g for rule in role["rules"] for g in rule["apiGroups"]} == {"lambdavpc.dev", ""}
    # Cluster-wide, only cluster-scoped reads: CRDs, tenant policies, namespaces (their labels), and
    # kube-system alone (the cluster's identity for the owner tag).
    (cluster_role,) = find(manifests, "ClusterRole")
    assert {(tuple(r["apiGroups"]), tuple(r["resources"]), tuple(r["verbs"])) for r in cluster_role["rules"]} == {
        (("apiextensions.k8s.io",), ("customresourcedefinitions",), ("list", "watch")),
        (("lambdavpc.dev",), ("lambdavpcpolicies",), ("list", "watch")),
        (("",), ("namespaces",), ("list", "watch")),
        (("",), ("namespaces",), ("get",)),
    }


def test_service_monitor_needs_the_value_and_the_api(render: Render) -> None:
    enabled = {"metrics": {"serviceMonitor": {"enabled": True}}}
    assert not find(render(), "ServiceMonitor")
    assert not find(render(api_versions=[SERVICE_MONITOR_API]), "ServiceMonitor")
    assert not find(render(enabled), "ServiceMonitor")  # no Prometheus Operator: no object helm cannot map
    (monitor,) = find(render(enabled, api_versions=[SERVICE_MONITOR_API]), "ServiceMonitor")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    no_metrics = render(
        {"metrics": {"enabled": False, "serviceMonitor": {"enabled": True}}}, api_versions=[SERVICE_MONITOR_API]
    )
    assert not find(no_metrics, "ServiceMonitor")
    assert not find(no_metrics, "Service")
    assert "metrics" not in {p["name"] for p in container(no_metrics)["ports"]}


def test_prometheus_rule_needs_the_value_and_the_api_and_uses_our_metrics(render: Render) -> None:
    import re

    from lambda_vpc_operator.handlers import metrics

    enabled = {"metrics": {"prometheusRule": {"enabled": True, "stalledFor": "5m"}}}
    assert not find(render(api_versions=[PROMETHEUS_RULE_API]), "PrometheusRule")
    assert not find(render(enabled), "PrometheusRule")  # no Prometheus Operator: no object helm cannot map
    (rule,) = find(render(enabled, api_versions=[PROMETHEUS_RULE_API]), "PrometheusRule")
    rules = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    assert {"LambdaVpcAttachmentStalled", "LambdaVpcOperatorThrottled", "LambdaVpcNetworkReadySlow"} <= set(rules)
    assert rules["LambdaVpcAttachmentStalled"]["for"] == "5m"
    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    exported = {name + suffix for name in metrics.NAMES for suffix in suffixes}
    for alert in rules.values():
        used = set(re.findall(r"\blambda_vpc_operator_[a-z_]+", alert["expr"]))
        assert used and used <= exported, (alert["alert"], used - exported)
        assert "{{" in alert["annotations"]["summary"] or alert["alert"] == "LambdaVpcOperatorLooksFailing"


@pytest.mark.parametrize("scenario", ["default", "webhook-cert-manager", "everything"])
def test_services_select_the_pods_and_name_their_ports(render: Render, scenario: str) -> None:
    values, api_versions, _ = SCENARIOS[scenario]
    manifests = render(values, api_versions=api_versions)
    pod_labels = deployment(manifests)["spec"]["template"]["metadata"]["labels"]
    port_names = {p["name"] for p in container(manifests)["ports"]}
    services = find(manifests, "Service")
    assert services
    for service in services:
        assert service["spec"]["selector"].items() <= pod_labels.items()
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names
    for monitor in find(manifests, "ServiceMonitor"):
        selected = [
            s for s in services if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        ]
        assert [s["metadata"]["name"] for s in selected] == [f"{FULLNAME}-metrics"]


def test_webhook_is_off_by_default(render: Render) -> None:
    manifests = render()
    assert not find(manifests, "ValidatingWebhookConfiguration")
    assert "webhook" not in {p["name"] for p in container(manifests)["ports"]}
    assert not [a for a in args_of(manifests) if a.startswith("--webhook")]


def test_webhook_with_cert_manager(render: Render) -> None:
    manifests = render({"webhook": {"enabled": True}})
    (config,) = find(manifests, "ValidatingWebhookConfiguration")
    (certificate,) = find(manifests, "Certificate")
    (issuer,) = find(manifests, "Issuer")
    (webhook,) = config["webhooks"]
    service = webhook["clientConfig"]["service"]

    assert config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == (
        f"{NAMESPACE}/{certificate['metadata']['name']}"
    )
    assert "caBundle" not in webhook["clientConfig"]  # cert-manager's injector fills it
    assert f"{service['name']}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    assert certificate["spec"]["issuerRef"]["name"] == issuer["metadata"]["name"]
    assert issuer["spec"] == {"selfSigned": {}}
    assert webhook["rules"] == [
        {
            "apiGroups": ["lambdavpc.dev"],
            "apiVersions": ["*"],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["lambdavpcattachments"],
            "scope": "Namespaced",
        }
    ]
    assert webhook["sideEffects"] == "None"
    # Safe by default (docs/install.md "Admission"): an operator pod restarting refuses nothing; the
    # reconcile-time check is authoritative; finalizer, metadata and terminating changes skip the webhook.
    assert webhook["failurePolicy"] == "Ignore"
    (match,) = webhook["matchConditions"]
    assert "object.spec != oldObject.spec" in match["expression"]
    assert "oldObject.metadata.deletionTimestamp" in match["expression"]
    assert service["path"] == "/validate-attachment"  # kopf serves a handler at /<handler id>

    pod = deployment(manifests)["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == "webhook-tls"]
    assert volume["secret"]["secretName"] == certificate["spec"]["secretName"]
    (mount,) = [m for m in container(manifests)["volumeMounts"] if m["name"] == "webhook-tls"]
    assert mount["readOnly"] is True
    assert f"--webhook-cert={mount['mountPath']}/tls.crt" in args_of(manifests)
    assert f"--webhook-key={mount['mountPath']}/tls.key" in args_of(manifests)
    assert "--webhook-port=9443" in args_of(manifests)


def test_webhook_with_an_issuer_of_your_own(render: Render) -> None:
    values = {"webhook": {"enabled": True, "certManager": {"issuerRef": {"kind": "ClusterIssuer", "name": "ca"}}}}
    manifests = render(values)
    assert not find(manifests, "Issuer")
    (certificate,) = find(manifests, "Certificate")
    assert certificate["spec"]["issuerRef"] == {"name": "ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}


def test_webhook_with_a_certificate_of_your_own(render: Render) -> None:
    manifests = render(SCENARIOS["webhook-own-certificate"][0])
    assert not find(manifests, "Certificate")
    assert not find(manifests, "Issuer")
    (config,) = find(manifests, "ValidatingWebhookConfiguration")
    assert "annotations" not in config["metadata"]
    assert config["webhooks"][0]["clientConfig"]["caBundle"] == CA_BUNDLE
    pod = deployment(manifests)["spec"]["template"]["spec"]
    assert {"name": "webhook-tls", "secret": {"secretName": "lvo-webhook-tls"}} in pod["volumes"]


@pytest.mark.parametrize(
    ("tls", "missing"),
    [
        pytest.param({}, "webhook.tls.caBundle", id="nothing"),
        pytest.param({"caBundle": CA_BUNDLE}, "webhook.tls.secretName", id="no-secret"),
        pytest.param({"secretName": "s"}, "webhook.tls.caBundle", id="no-ca"),
    ],
)
def test_webhook_without_cert_manager_needs_secret_and_ca(render: Render, tls: dict[str, str], missing: str) -> None:
    with pytest.raises(HelmFailed, match=missing):
        render({"webhook": {"enabled": True, "certManager": {"enabled": False}, "tls": tls}})


def test_webhook_follows_watched_namespaces(render: Render) -> None:
    manifests = render({"webhook": {"enabled": True}, "watchNamespaces": ["team-a"]})
    (config,) = find(manifests, "ValidatingWebhookConfiguration")
    assert config["webhooks"][0]["namespaceSelector"] == {
        "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["team-a"]}]
    }

"""Who we are to the Kubernetes API: one login for kopf and for our own requests (``kube.rest``).

In a pod, the service account (its token is re-read at each login: the kubelet rotates it); else
the current context of KUBECONFIG (or ~/.kube/config). kopf reads both without the kubernetes client
(as ``kopf.login_with_kubeconfig`` does), which the operator does not import: its generated models alone
cost 9 MiB of the operator's memory (docs/benchmarks.md "Memory"). A kubeconfig user that needs
more than static credentials (an ``exec`` plugin such as ``aws eks get-token``, an ``auth-provider``,
a ``tokenFile``, files named relative to the kubeconfig) logs in through the kubernetes client, as
kopf would, and pays those 9 MiB.
"""

from __future__ import annotations

import logging
import os
import pathlib
from collections.abc import Mapping
from typing import Any

import kopf
import yaml

logger = logging.getLogger(__name__)

SERVICE_ACCOUNT = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")
# A user with any of these needs the kubernetes client to turn it into a token.
PLUGIN_FIELDS = ("exec", "auth-provider", "tokenFile")
FILE_FIELDS = ("certificate-authority", "client-certificate", "client-key")


def login(
    settings: kopf.OperatorSettings | None = None,
    *,
    kubeconfig: str | os.PathLike[str] | None = None,
    service_account: pathlib.Path = SERVICE_ACCOUNT,
    environ: Mapping[str, str] = os.environ,
) -> kopf.ConnectionInfo:
    """The credentials to use now (a login handler of kopf's, and ``rest.KubeApi``'s)."""
    settings = settings or kopf.OperatorSettings()
    if kubeconfig is None and (service_account / "token").exists():
        return _service_account(service_account, environ, settings)
    paths = _kubeconfig_paths(kubeconfig, environ)
    if not paths:
        raise kopf.LoginError("Neither a service account nor a kubeconfig: cannot log in to Kubernetes.")
    if _needs_client(paths):
        logger.info("The kubeconfig's user needs a plugin or relative files: logging in through the kubernetes client")
        return _via_client(paths, settings)
    return _kubeconfig(paths, settings)


def _service_account(
    folder: pathlib.Path, environ: Mapping[str, str], settings: kopf.OperatorSettings
) -> kopf.ConnectionInfo:
    """Like client-go: the API server the pod's environment names (kubernetes.default.svc only resolves with
    cluster DNS, not on a host-network pod), the mounted token, CA and namespace."""
    host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
    server = "https://kubernetes.default.svc"
    if host and port:
        server = f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"
    ca = folder / "ca.crt"
    namespace = folder / "namespace"
    return kopf.ConnectionInfo(
        server=server,
        ca_path=str(ca) if ca.exists() else None,
        token=(folder / "token").read_text().strip() or None,
        default_namespace=(namespace.read_text().strip() or None) if namespace.exists() else None,
        trust_env=settings.networking.trust_env,
    )


def _kubeconfig_paths(kubeconfig: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> list[str]:
    if kubeconfig is not None:
        return [os.fspath(kubeconfig)]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        return [os.path.expanduser(p.strip()) for p in listed.split(os.pathsep) if p.strip()]
    default = os.path.expanduser("~/.kube/config")
    return [default] if os.path.exists(default) else []


def current_user(paths: list[str]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The current context, its cluster and its user, merged over the files as kubectl does (the first
    file that names something wins)."""
    current: str | None = None
    contexts: dict[str, Any] = {}
    clusters: dict[str, Any] = {}
    users: dict[str, Any] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            config = yaml.safe_load(f) or {}
        current = current or config.get("current-context")
        for kind, found in (("contexts", contexts), ("clusters", clusters), ("users", users)):
            for item in config.get(kind) or ():
                found.setdefault(item["name"], item.get(kind[:-1]) or {})
    if not current or current not in contexts:
        raise kopf.LoginError(f"No current context in {os.pathsep.join(paths)}")
    context = contexts[current]
    return context, clusters.get(context.get("cluster"), {}), users.get(context.get("user"), {})


def context_namespace(environ: Mapping[str, str] = os.environ) -> str | None:
    """The current context's namespace (kubectl's default for -n), without logging in."""
    paths = _kubeconfig_paths(None, environ)
    return current_user(paths)[0].get("namespace") if paths else None


def _needs_client(paths: list[str]) -> bool:
    _, cluster, user = current_user(paths)
    if any(user.get(field) for field in PLUGIN_FIELDS):
        return True
    files = [cluster.get(FILE_FIELDS[0]), user.get(FILE_FIELDS[1]), user.get(FILE_FIELDS[2])]
    return any(path and not os.path.isabs(path) for path in files)


def _kubeconfig(paths: list[str], settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """Static credentials, as ``kopf.login_with_kubeconfig`` reads them (it reads KUBECONFIG only)."""
    context, cluster, user = current_user(paths)
    return kopf.ConnectionInfo(
        server=cluster.get("server", ""),
        ca_path=cluster.get("certificate-authority"),
        ca_data=cluster.get("certificate-authority-data"),
        insecure=cluster.get("insecure-skip-tls-verify"),
        certificate_path=user.get("client-certificate"),
        certificate_data=user.get("client-certificate-data"),
        private_key_path=user.get("client-key"),
        private_key_data=user.get("client-key-data"),
        username=user.get("username"),
        password=user.get("password"),
        token=user.get("token"),
        default_namespace=context.get("namespace"),
        proxy_url=cluster.get("proxy-url"),
        trust_env=settings.networking.trust_env,
    )


def _via_client(paths: list[str], settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """As ``kopf.login_via_client``, for the kubeconfig given (kopf's reads KUBECONFIG only)."""
    import kubernetes  # only here: 9 MiB the static logins above do not need

    configuration = kubernetes.client.Configuration()
    # The client merges the files as kubectl does, and reads files relative to the kubeconfig.
    kubernetes.config.load_kube_config(config_file=os.pathsep.join(paths), client_configuration=configuration)  # type: ignore[no-untyped-call]
    # The plugin's token: reading the header runs the client's refresh hook (exec, auth-provider).
    api_key = configuration.get_api_key_with_prefix
    header = api_key("BearerToken") or api_key("authorization")  # the first since kubernetes 36
    scheme, _, token = header.partition(" ") if header and " " in header else (None, "", header)
    return kopf.ConnectionInfo(
        server=configuration.host,
        ca_path=configuration.ssl_ca_cert,  # may be a temporary file the client wrote
        insecure=not configuration.verify_ssl,
        username=configuration.username or None,
        password=configuration.password or None,
        scheme=scheme or None,
        token=token or None,
        certificate_path=configuration.cert_file,
        private_key_path=configuration.key_file,
        default_namespace=current_user(paths)[0].get("namespace"),
        trust_env=settings.networking.trust_env,
    )

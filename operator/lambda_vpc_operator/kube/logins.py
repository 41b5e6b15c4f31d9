"""Who we are to the Kubernetes API: one login for kopf and for our own requests (``kube.rest``).

In a pod, the service account (its token is re-read at each login: the kubelet rotates it); else
the current context of KUBECONFIG (or ~/.kube/config). Both are read here without the kubernetes
client (as ``kopf.login_with_kubeconfig`` does), which the operator does not import: its generated
models alone cost 9 MiB of the operator's memory (docs/benchmarks.md "Memory"). A kubeconfig user
that needs more than static credentials (an ``exec`` plugin such as ``aws eks get-token``, an
``auth-provider``, a ``tokenFile``, files named relative to the kubeconfig) logs in through the
kubernetes client, as kopf would, and pays those 9 MiB.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
import json
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
# Read the service account's token again this long before the API server would call it stale.
TOKEN_MARGIN = datetime.timedelta(minutes=1)


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
    config = Kubeconfig.read(_kubeconfig_paths(kubeconfig, environ))
    if config.needs_client:
        logger.info("The kubeconfig's user needs a plugin or relative files: logging in through the kubernetes client")
        return _via_client(config, settings)
    return _static(config, settings)


def context_namespace(environ: Mapping[str, str] = os.environ) -> str | None:
    """The current context's namespace (kubectl's default for -n), without logging in."""
    paths = _kubeconfig_paths(None, environ)
    return Kubeconfig.read(paths).context.get("namespace") if paths else None


@dataclasses.dataclass(frozen=True)
class Kubeconfig:
    """The current context of one or more kubeconfig files, merged as kubectl merges them: files that
    do not exist are skipped, the first file to set current-context or to name a context, cluster or
    user wins."""

    paths: tuple[str, ...]
    context_name: str
    context: Mapping[str, Any]
    cluster: Mapping[str, Any]
    user: Mapping[str, Any]

    @classmethod
    def read(cls, paths: list[str]) -> Kubeconfig:
        present = tuple(path for path in paths if os.path.exists(path))
        if not present:
            raise kopf.LoginError("Neither a service account nor a kubeconfig: cannot log in to Kubernetes.")
        where = os.pathsep.join(present)
        current: str | None = None
        named: dict[str, dict[str, Any]] = {"contexts": {}, "clusters": {}, "users": {}}
        try:
            for path in present:
                with open(path, encoding="utf-8") as f:
                    config = yaml.safe_load(f) or {}
                current = current or config.get("current-context")
                for kind, found in named.items():
                    for item in config.get(kind) or ():
                        found.setdefault(item["name"], item.get(kind[:-1]) or {})
        except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
            raise kopf.LoginError(f"Cannot read the kubeconfig {where}: {exc!r}") from None
        if not current or current not in named["contexts"]:
            raise kopf.LoginError(f"No current context in {where}")
        context = named["contexts"][current]
        cluster, user = named["clusters"].get(context.get("cluster")), named["users"].get(context.get("user"), {})
        if not cluster or not cluster.get("server"):
            raise kopf.LoginError(f"Context {current} names no cluster with a server in {where}")
        if cluster.get("tls-server-name"):
            # kopf's own connections cannot set the TLS server name: the operator could not watch.
            raise kopf.LoginError(f"Cluster {context.get('cluster')}: tls-server-name is not supported (kopf)")
        return cls(present, current, context, cluster, user)

    @property
    def needs_client(self) -> bool:
        if any(self.user.get(field) for field in PLUGIN_FIELDS):
            return True
        files = (
            self.cluster.get("certificate-authority"),
            self.user.get("client-certificate"),
            self.user.get("client-key"),
        )
        return any(path and not os.path.isabs(path) for path in files)


def _kubeconfig_paths(kubeconfig: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> list[str]:
    if kubeconfig is not None:
        return [os.fspath(kubeconfig)]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        return [os.path.expanduser(p.strip()) for p in listed.split(os.pathsep) if p.strip()]
    return [os.path.expanduser("~/.kube/config")]


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
    token = (folder / "token").read_text().strip()
    return kopf.ConnectionInfo(
        server=server,
        ca_path=str(ca) if ca.exists() else None,
        token=token or None,
        default_namespace=(namespace.read_text().strip() or None) if namespace.exists() else None,
        trust_env=settings.networking.trust_env,
        expiration=_token_expiration(token),
    )


def _token_expiration(token: str) -> datetime.datetime | None:
    """When to read a service account token again: before the API server calls it stale (its
    ``kubernetes.io.warnafter`` claim; the kubelet has written a new one by then) or expired.
    kopf logs in again at this time; so does ``rest.KubeApi``. None for a token that is not a JWT."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        stale = claims.get("kubernetes.io", {}).get("warnafter") or claims["exp"]
        return datetime.datetime.fromtimestamp(float(stale), datetime.UTC) - TOKEN_MARGIN
    except (IndexError, ValueError, KeyError, TypeError, AttributeError, binascii.Error):
        return None


def _static(config: Kubeconfig, settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """Static credentials, as ``kopf.login_with_kubeconfig`` reads them (it reads KUBECONFIG only)."""
    cluster, user = config.cluster, config.user
    try:
        return kopf.ConnectionInfo(
            server=cluster["server"],
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
            default_namespace=config.context.get("namespace"),
            proxy_url=cluster.get("proxy-url"),
            trust_env=settings.networking.trust_env,
        )
    except ValueError as exc:  # a path and data for the same file
        raise kopf.LoginError(f"Context {config.context_name}: {exc}") from None


def _via_client(config: Kubeconfig, settings: kopf.OperatorSettings) -> kopf.ConnectionInfo:
    """As ``kopf.login_via_client``, for the context read here (kopf's reads KUBECONFIG only)."""
    import kubernetes  # only here: 9 MiB the static logins above do not need

    configuration = kubernetes.client.Configuration()
    # The client reads files relative to the kubeconfig and runs plugins. Its merge of several files
    # takes the last current-context: name the one kubectl would use.
    kubernetes.config.load_kube_config(  # type: ignore[no-untyped-call]
        config_file=os.pathsep.join(config.paths), context=config.context_name, client_configuration=configuration
    )
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
        default_namespace=config.context.get("namespace"),
        trust_env=settings.networking.trust_env,
    )

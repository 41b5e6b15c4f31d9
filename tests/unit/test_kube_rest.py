"""The operator's own Kubernetes requests (kube.rest) and its login (kube.logins), over real HTTP.

Against the Kubernetes emulator with bearer-token authentication on (a 401 for any other token, as
a real API server answers an expired service account token), and against an HTTPS server of the
test's own for TLS. Also: no module of the running operator imports the kubernetes client.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import json
import os
import pathlib
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import kopf
import pytest
import urllib3
import yaml
from tests.certificates import certificate

from lambda_vpc_operator.kube import logins
from lambda_vpc_operator.kube.clusters import cluster_identity
from lambda_vpc_operator.kube.rest import KubeApi, KubeApiError
from lambda_vpc_sandbox.kube import EmulatorThread

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with EmulatorThread(kubeconfig_path=tmp_path_factory.mktemp("kube") / "kubeconfig", token="first") as kube:
        yield kube


@pytest.fixture
def tokens(kube: EmulatorThread) -> Iterator[None]:
    yield
    kube.emulator.tokens = {"first"}


def _kubeconfig(path: pathlib.Path, server: str, user: dict[str, Any], namespace: str = "team-a") -> pathlib.Path:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u", "namespace": namespace}}],
    }))  # fmt: skip
    return path


class _Logins:
    """Counts the logins of a KubeApi that reads its kubeconfig anew each time."""

    def __init__(self, kubeconfig: pathlib.Path) -> None:
        self.kubeconfig, self.count = kubeconfig, 0

    def __call__(self) -> kopf.ConnectionInfo:
        self.count += 1
        return logins.login(kubeconfig=self.kubeconfig)


def test_the_kubeconfigs_token_is_sent(kube: EmulatorThread) -> None:
    api = KubeApi(lambda: logins.login(kubeconfig=kube.kubeconfig_path))
    assert api.get("/api/v1/namespaces/kube-system")["metadata"]["name"] == "kube-system"
    assert cluster_identity(api)  # the cluster name the owner tag derives from


def test_no_token_is_unauthorized(kube: EmulatorThread, tmp_path: pathlib.Path) -> None:
    anonymous = _kubeconfig(tmp_path / "config", kube.url, {})
    with pytest.raises(KubeApiError) as raised:
        KubeApi(lambda: logins.login(kubeconfig=anonymous)).get("/api/v1/namespaces")
    assert raised.value.status == 401


def test_a_rotated_token_is_read_again_after_a_401(kube: EmulatorThread, tmp_path: pathlib.Path, tokens: None) -> None:
    # The kubelet rewrites a service account's token file; the old token is refused from then on.
    config = _kubeconfig(tmp_path / "config", kube.url, {"token": "first"})
    login = _Logins(config)
    api = KubeApi(login)
    api.get("/api/v1/namespaces/default")
    kube.emulator.tokens = {"second"}
    _kubeconfig(config, kube.url, {"token": "second"})
    assert api.get("/api/v1/namespaces/default")["metadata"]["name"] == "default"
    assert login.count == 2
    api.get("/api/v1/namespaces/default")
    assert login.count == 2  # logged in again once, not at every request


def test_a_token_still_refused_after_logging_in_again_is_the_answer(
    kube: EmulatorThread, tmp_path: pathlib.Path, tokens: None
) -> None:
    login = _Logins(_kubeconfig(tmp_path / "config", kube.url, {"token": "first"}))
    api = KubeApi(login)
    kube.emulator.tokens = {"revoked-everything"}
    with pytest.raises(KubeApiError) as raised:
        api.get("/api/v1/namespaces/default")
    assert (raised.value.status, login.count) == (401, 2)  # one login more, no loop


def test_an_error_carries_status_reason_and_retry_after(kube: EmulatorThread) -> None:
    api = KubeApi(lambda: logins.login(kubeconfig=kube.kubeconfig_path))
    kube.control.inject_faults(
        [{"kind": "throttle", "resources": "namespaces", "limit": 1, "params": {"retry_after": 3}}]
    )
    try:
        with pytest.raises(KubeApiError) as raised:
            api.get("/api/v1/namespaces/default")
    finally:
        kube.control.clear_faults()
    assert (raised.value.status, raised.value.retry_after) == (429, 3.0)
    with pytest.raises(KubeApiError) as missing:
        api.get("/api/v1/namespaces/absent")
    assert (missing.value.status, missing.value.reason, missing.value.retry_after) == (404, "Not Found", None)


# -- TLS --------------------------------------------------------------------------------------


@pytest.fixture
def https(tmp_path: pathlib.Path) -> Iterator[tuple[str, pathlib.Path]]:
    """An HTTPS server answering every GET with the Authorization header it got, and its CA."""
    cert, key = certificate(tmp_path, ["localhost"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the http.server API
            body = json.dumps({"authorization": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Quiet(ThreadingHTTPServer):
        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # a client refusing our certificate is what a test wants

    server = Quiet(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"https://localhost:{server.server_address[1]}", cert
    finally:
        server.shutdown()
        server.server_close()


def test_the_clusters_certificate_authority_is_trusted(https: tuple[str, pathlib.Path], tmp_path: pathlib.Path) -> None:
    url, cert = https
    user = {"token": "t"}
    config = tmp_path / "config"
    _kubeconfig(config, url, user)
    data = yaml.safe_load(config.read_text())
    data["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(cert.read_bytes()).decode()
    config.write_text(yaml.safe_dump(data))
    assert KubeApi(lambda: logins.login(kubeconfig=config)).get("/")["authorization"] == "Bearer t"


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # what the test asks for
def test_an_unknown_certificate_is_refused_unless_told_to_skip_verification(
    https: tuple[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    url, _ = https
    other, _ = certificate(tmp_path, ["localhost"])
    config = _kubeconfig(tmp_path / "config", url, {"token": "t"})
    data = yaml.safe_load(config.read_text())
    data["clusters"][0]["cluster"]["certificate-authority"] = str(other)
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(urllib3.exceptions.SSLError):
        KubeApi(lambda: logins.login(kubeconfig=config)).get("/")
    del data["clusters"][0]["cluster"]["certificate-authority"]
    data["clusters"][0]["cluster"]["insecure-skip-tls-verify"] = True
    config.write_text(yaml.safe_dump(data))
    assert KubeApi(lambda: logins.login(kubeconfig=config)).get("/")["authorization"] == "Bearer t"


# -- logins -----------------------------------------------------------------------------------


def test_a_service_account_is_read_from_its_folder_at_each_login(tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text("one\n")
    (folder / "namespace").write_text("lambda-vpc-system")
    environ = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    first = logins.login(service_account=folder, environ=environ)
    assert (first.server, first.token, first.default_namespace, first.ca_path) == (
        "https://10.96.0.1:443", "one", "lambda-vpc-system", None,
    )  # fmt: skip
    (folder / "token").write_text("two")  # the kubelet rotated it
    (folder / "ca.crt").write_text("")
    second = logins.login(
        service_account=folder, environ={"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    )
    assert (second.server, second.token, second.ca_path) == ("https://[fd00::1]:6443", "two", str(folder / "ca.crt"))
    # Without the environment (kubernetes.default.svc resolves with cluster DNS).
    assert logins.login(service_account=folder, environ={}).server == "https://kubernetes.default.svc"


def test_kubeconfig_files_merge_and_the_first_wins(tmp_path: pathlib.Path) -> None:
    first = _kubeconfig(tmp_path / "a", "http://first", {"token": "a"}, namespace="one")
    second = _kubeconfig(tmp_path / "b", "http://second", {"token": "b"}, namespace="two")
    missing = tmp_path / "not-there"  # skipped, as kubectl skips it
    environ = {"KUBECONFIG": os.pathsep.join([str(missing), str(first), str(second)])}
    info = logins.login(service_account=tmp_path / "none", environ=environ)
    assert (info.server, info.token, info.default_namespace) == ("http://first", "a", "one")
    assert logins.context_namespace(environ) == "one"


def test_a_service_account_token_is_read_again_before_it_goes_stale(tmp_path: pathlib.Path) -> None:
    # A bound token's claims: the API server calls it stale after warnafter (the kubelet has a new one).
    claims = {"exp": 2_000_000_000, "kubernetes.io": {"warnafter": 1_900_000_000}}
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "token").write_text(f"header.{payload}.signature")
    info = logins.login(service_account=folder, environ={})
    assert info.expiration == datetime.datetime.fromtimestamp(1_900_000_000 - 60, datetime.UTC)
    (folder / "token").write_text("not-a-jwt")
    assert logins.login(service_account=folder, environ={}).expiration is None


def test_an_expired_login_is_renewed_before_the_request(kube: EmulatorThread) -> None:
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    count = 0

    def login() -> kopf.ConnectionInfo:
        nonlocal count
        count += 1
        info = logins.login(kubeconfig=kube.kubeconfig_path)
        return dataclasses.replace(info, expiration=past if count == 1 else None)

    api = KubeApi(login)
    api.get("/api/v1/namespaces/default")
    api.get("/api/v1/namespaces/default")
    assert count == 2  # the first, expired at once; then one that lasts


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda d: d["contexts"][0]["context"].update(cluster="gone"), "names no cluster"),
        (lambda d: d.update({"current-context": "other"}), "No current context"),
        (lambda d: d["clusters"][0]["cluster"].update({"tls-server-name": "api.internal"}), "tls-server-name"),
        (
            lambda d: d["clusters"][0]["cluster"].update(
                {"certificate-authority": "/ca", "certificate-authority-data": "eA=="}
            ),
            "Both CA",
        ),
        (lambda d: d.update(users="not a list"), "Cannot read"),
    ],
)
def test_a_kubeconfig_that_cannot_work_is_a_login_error_naming_why(
    tmp_path: pathlib.Path, change: Any, says: str
) -> None:
    config = _kubeconfig(tmp_path / "config", "https://127.0.0.1:1", {"token": "t"})
    data = yaml.safe_load(config.read_text())
    change(data)
    config.write_text(yaml.safe_dump(data))
    with pytest.raises(kopf.LoginError, match=says):
        logins.login(kubeconfig=config)


def test_nothing_to_log_in_with_is_a_login_error(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    with pytest.raises(kopf.LoginError):
        logins.login(service_account=tmp_path / "none", environ={})


def test_an_exec_plugin_logs_in_through_the_kubernetes_client(tmp_path: pathlib.Path) -> None:
    # As `aws eks get-token` does: the plugin prints an ExecCredential; the token is what is sent.
    plugin = tmp_path / "get-token"
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": "from-the-plugin"}}  # fmt: skip
    plugin.write_text(f"#!{sys.executable}\nprint({json.dumps(json.dumps(credential))})\n")
    plugin.chmod(plugin.stat().st_mode | stat.S_IEXEC)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": str(plugin)}}
    config = _kubeconfig(tmp_path / "config", "http://127.0.0.1:1", user, namespace="team-b")
    info = logins.login(kubeconfig=config)
    assert (info.token, info.default_namespace) == ("from-the-plugin", "team-b")
    # With a second file whose current-context differs, the first file's context is the one used
    # (kubectl's rule; the client alone would take the last file's).
    other = yaml.safe_load(_kubeconfig(tmp_path / "other", "http://elsewhere:1", {"token": "x"}).read_text())
    other["contexts"][0] = {"name": "elsewhere", "context": {"cluster": "k2", "user": "u2"}}
    other["clusters"][0]["name"], other["users"][0]["name"], other["current-context"] = "k2", "u2", "elsewhere"
    (tmp_path / "other").write_text(yaml.safe_dump(other))
    merged = logins.login(environ={"KUBECONFIG": f"{config}{os.pathsep}{tmp_path / 'other'}"}, service_account=tmp_path)
    assert (merged.server, merged.token) == ("http://127.0.0.1:1", "from-the-plugin")
    assert info.as_http_headers() == {"Authorization": "Bearer from-the-plugin"}


def test_files_named_relative_to_the_kubeconfig_are_found_there(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "kube"
    folder.mkdir()
    cert, _ = certificate(folder, ["localhost"])
    config = _kubeconfig(folder / "config", "https://127.0.0.1:1", {"token": "t"})
    data = yaml.safe_load(config.read_text())
    data["clusters"][0]["cluster"]["certificate-authority"] = cert.name  # relative, as kubectl allows
    config.write_text(yaml.safe_dump(data))
    monkeypatch.chdir(tmp_path)  # not where the kubeconfig is
    info = logins.login(kubeconfig=config)
    assert info.ca_path is not None and pathlib.Path(str(info.ca_path)).read_bytes() == cert.read_bytes()


def test_the_operators_modules_do_not_import_the_kubernetes_client() -> None:
    # Its import costs the operator 9 MiB; only a kubeconfig plugin's login (kube.logins) may pay it.
    # Every module of the package but the CLI's own commands, with kopf imported as `run` does.
    script = """
import importlib, pkgutil, sys
import lambda_vpc_operator
from lambda_vpc_operator import cli
cli._import_kopf_alone()
for module in pkgutil.walk_packages(lambda_vpc_operator.__path__, "lambda_vpc_operator."):
    if not module.name.startswith(("lambda_vpc_operator.commands", "lambda_vpc_operator.__main__")):
        importlib.import_module(module.name)
print(sorted(name for name in sys.modules if name.split(".")[0] == "kubernetes"))
"""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT / "sandbox")])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_run_without_credentials_says_what_to_do(tmp_path: pathlib.Path) -> None:
    # No service account, no kubeconfig: a clear exit, not a traceback.
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), "KUBECONFIG": str(tmp_path / "none"),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), str(ROOT / "sandbox")]),
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "lambda_vpc_operator", "run", "--region", "us-east-1"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert "Cannot derive this cluster's name" in done.stderr and "--cluster-name" in done.stderr
    assert "Traceback" not in done.stderr

"""Running the Kubernetes API emulator: the thread runner and ``lambda-vpc-operator sandbox kube``."""

from __future__ import annotations

import asyncio
import json
import pathlib
import signal
import subprocess
import sys
import urllib.request
from typing import Any

import yaml

from lambda_vpc_sandbox.kube import EmulatorThread


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_thread_runner_serves_on_a_free_port_and_writes_a_kubeconfig(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "nested" / "kubeconfig"
    kube = EmulatorThread(kubeconfig_path=path).start()
    try:
        assert kube.url == f"http://127.0.0.1:{kube.port}"
        assert kube.kubeconfig_path == path
        config = yaml.safe_load(path.read_text())
        assert config["clusters"][0]["cluster"]["server"] == kube.url
        assert _get(kube.url + "/version")["major"] == "1"
    finally:
        kube.stop()
    kube.stop()  # idempotent


def test_thread_runner_calls_into_its_loop(kube_emulator: EmulatorThread, kube_crd: dict[str, Any]) -> None:
    async def running_loop_id() -> int:
        return id(asyncio.get_running_loop())

    assert isinstance(kube_emulator.call(running_loop_id), int)
    assert kube_emulator.call(lambda: 42) == 42
    crd = kube_emulator.install_crd(kube_crd)
    assert crd["metadata"]["name"] == "lambdavpcattachments.lambdavpc.example.com"
    assert _get(kube_emulator.url + "/apis/lambdavpc.example.com/v1alpha1")["kind"] == "APIResourceList"


def test_several_emulators_can_run_and_stop_in_any_order(tmp_path: pathlib.Path) -> None:
    first = EmulatorThread(kubeconfig_path=tmp_path / "a").start()
    second = EmulatorThread(kubeconfig_path=tmp_path / "b").start()
    first.stop()  # not LIFO
    assert _get(second.url + "/api")["versions"] == ["v1"]
    second.stop()


def test_cli_installs_crds_and_stops_on_ctrl_c(tmp_path: pathlib.Path, kube_crd: dict[str, Any]) -> None:
    crds = tmp_path / "crds"
    crds.mkdir()
    (crds / "crd.yaml").write_text(yaml.safe_dump_all([kube_crd, {"kind": "ConfigMap", "metadata": {}}]))
    kubeconfig = tmp_path / "kubeconfig"
    command = [sys.executable, "-m", "lambda_vpc_sandbox.kube.running"]
    process = subprocess.Popen(
        [*command, "--kubeconfig", str(kubeconfig), "--crds", str(crds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert process.stdout.readline().strip() == f"KUBECONFIG={kubeconfig}"
        assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == url
        listed = _get(url + "/apis/lambdavpc.example.com/v1alpha1/lambdavpcattachments")
        assert listed["kind"] == "LambdaVpcAttachmentList"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

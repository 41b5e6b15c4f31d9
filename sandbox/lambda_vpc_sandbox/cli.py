"""The ``lambda-vpc-sandbox`` command (also ``lambda-vpc-operator sandbox``): the whole sandbox, or one
emulator alone (``kube`` or ``aws``); each parses its own flags.

It lives here, not in the operator, so the operator's wheel and image carry the operator alone.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """``[kube|aws] ...``: dispatch to the emulator asked for, else start everything."""
    rest = list(sys.argv[1:] if argv is None else argv)
    component, *args = rest or [""]
    if component == "kube":
        from lambda_vpc_sandbox.kube.running import main as kube_main

        return int(kube_main(args) or 0)
    if component == "aws":
        from lambda_vpc_sandbox.aws.server import main as aws_main

        return int(aws_main(args) or 0)
    from lambda_vpc_sandbox.running import main as sandbox_main

    return int(sandbox_main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())

"""``python -m lambda_vpc_sandbox.aws``: the same as ``lambda-vpc-operator sandbox aws``."""

import sys

from .server import main

sys.exit(main())

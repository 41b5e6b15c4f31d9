"""``python -m lambda_vpc_sandbox``: the same as ``lambda-vpc-sandbox`` and ``lambda-vpc-operator sandbox``."""

import sys

from .cli import main

sys.exit(main())

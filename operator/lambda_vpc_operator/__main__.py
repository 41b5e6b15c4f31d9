"""``python -m lambda_vpc_operator`` is the same as the ``lambda-vpc-operator`` command."""

import sys

from lambda_vpc_operator.cli import main

sys.exit(main())

"""Settings of the AWS simulator: delays, quotas, request budgets.

Why a module of its own: the same numbers are read by the lifecycle logic (delays, quotas), the
request budgets (rates) and the control API (which changes them at run time), and a test or a
benchmark wants to see every default in one place, each with the AWS fact it stands for.

The defaults are small on purpose, for tests: every delay passes at once with the simulated clock's
``advance``, and a test that waits in real time waits seconds, not minutes. ``SimConfig.realistic()``
gives numbers closer to what AWS takes, for benchmarks and the interactive sandbox.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

#: moto's default account (access keys moto does not know map to it).
DEFAULT_ACCOUNT_ID = "123456789012"

#: aws-facts "Inactive functions and reactivation": a function idle for 14 days becomes Inactive.
IDLE_AFTER_SECONDS = 14 * 24 * 3600.0

#: aws-facts "Hyperplane ENIs": default quota of 500 Lambda Hyperplane ENIs per VPC.
DEFAULT_ENI_QUOTA_PER_VPC = 500

#: aws-facts "Lambda function configuration": ListFunctions returns at most 50 functions a page.
LIST_FUNCTIONS_PAGE_SIZE = 50

#: aws-facts "Rate limits": every Lambda control-plane call but GetFunction shares 15 requests/s.
CONTROL_PLANE_RATE = 15.0

#: aws-facts "Rate limits": GetFunction has its own bucket of 100 requests/s.
GET_FUNCTION_RATE = 100.0

#: aws-facts "EC2 request buckets and paging": each non-mutating EC2 API has a bucket of 100 tokens
#: refilled at 20/s; the unfiltered and unpaginated describes (DescribeNetworkInterfaces,
#: DescribeSecurityGroups, ...) a bucket of 50 refilled at 10/s.
EC2_NON_MUTATING_BURST, EC2_NON_MUTATING_RATE = 100.0, 20.0
EC2_UNFILTERED_BURST, EC2_UNFILTERED_RATE = 50.0, 10.0


@dataclass
class SimConfig:
    """Every tunable of the simulator, with defaults sized for tests (seconds of simulated time).

    - ``create_delay``: CreateFunction without VpcConfig stays Pending (Creating) this long
      (aws-facts "State": Pending until resources are ready).
    - ``update_delay``: any accepted UpdateFunctionConfiguration/UpdateFunctionCode stays
      LastUpdateStatus=InProgress at least this long (aws-facts "Errors": InProgress blocks updates).
    - ``eni_create_delay``: creating a Hyperplane ENI for a new (subnet, SG set) takes this long
      (aws-facts "Hyperplane ENIs": creating one can take several minutes; reuse is far faster).
    - ``eni_delete_delay``: an ENI no function uses any more is deleted after this long
      (aws-facts "Hyperplane ENIs": up to 20 minutes, and only if no other function uses it).
    - ``idle_after``: a VPC function not invoked this long becomes Inactive (aws-facts: 14 days).
    - ``eni_quota_per_vpc``: Hyperplane ENIs a VPC may hold (aws-facts: default quota 500).
    - ``rate_limits_enabled``, ``control_per_s``, ``get_function_per_s``: token buckets of the
      Lambda control plane (aws-facts "Rate limits": 15/s shared, GetFunction 100/s). Real time.
      ``rate_limits_enabled`` switches EC2's buckets too: ``ec2_non_mutating_burst``/``_per_s`` (per
      non-mutating API, 100 / 20 per s) and ``ec2_unfiltered_burst``/``_per_s`` (unfiltered and
      unpaginated describes, 50 / 10 per s); beyond them RequestLimitExceeded (aws-facts "EC2 request
      buckets and paging").
    - ``list_page_size``: ListFunctions page size cap (aws-facts: at most 50 a page).
    - ``role_refused_at_call``: a VpcConfig whose execution role may not create ENIs is refused by
      CreateFunction/UpdateFunctionConfiguration (aws-facts "Refusals": InvalidParameterValueException);
      False: accepted, and the change fails later with InsufficientRolePermissions (aws-facts "Errors").
    - ``iam_propagation_delay``: a role created or changed (its policies) less than this long ago
      is seen by Lambda as it was before, i.e. without the permissions just granted (aws-facts
      "Refusals": IAM is eventually consistent; the refusal right after a role change is transient).
    - ``free_address_jitter``: on every DescribeSubnets, each subnet's AvailableIpAddressCount is
      its own count minus a random 0..jitter, as in subnets shared with pods, whose VPC CNI takes
      and gives back addresses all the time (0: counts move only with the ENIs; subnets whose count
      ``set_subnet_free_addresses`` set are left exact).
    """

    create_delay: float = 0.5
    update_delay: float = 1.0
    eni_create_delay: float = 3.0
    eni_delete_delay: float = 5.0
    idle_after: float = IDLE_AFTER_SECONDS
    eni_quota_per_vpc: int = DEFAULT_ENI_QUOTA_PER_VPC
    rate_limits_enabled: bool = True
    control_per_s: float = CONTROL_PLANE_RATE
    get_function_per_s: float = GET_FUNCTION_RATE
    ec2_non_mutating_burst: float = EC2_NON_MUTATING_BURST
    ec2_non_mutating_per_s: float = EC2_NON_MUTATING_RATE
    ec2_unfiltered_burst: float = EC2_UNFILTERED_BURST
    ec2_unfiltered_per_s: float = EC2_UNFILTERED_RATE
    list_page_size: int = LIST_FUNCTIONS_PAGE_SIZE
    role_refused_at_call: bool = True
    iam_propagation_delay: float = 0.0
    free_address_jitter: int = 0

    @classmethod
    def realistic(cls) -> SimConfig:
        """Delays in the range AWS takes (aws-facts "Hyperplane ENIs": minutes to create,
        up to 20 minutes to delete), for benchmarks that measure waiting, not for unit tests."""
        return cls(create_delay=5.0, update_delay=10.0, eni_create_delay=90.0, eni_delete_delay=1200.0)

    def copy(self) -> SimConfig:
        return dataclasses.replace(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

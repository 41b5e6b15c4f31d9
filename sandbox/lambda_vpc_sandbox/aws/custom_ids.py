"""Chosen ids for VPCs, subnets and security groups, so examples can name them.

moto lets a caller pick a resource's id with the tag ``_custom_id_`` (moto.utilities.id_generator
TAG_KEY_CUSTOM_ID) for the services that use its id manager; EC2 does not, it draws ids from
``moto.ec2.utils.random_*_id``. The demo account wants stable ids (``subnet-0demoprivatea``) so
that examples/ and the README work unchanged in every sandbox. For a Create call that carries the
tag we swap moto's id function for that one request; every request runs under the backend's lock,
so no other request can see the swap.
"""

from __future__ import annotations

import contextlib
import importlib
import urllib.parse
from collections.abc import Iterator
from unittest import mock

from moto.utilities.id_generator import TAG_KEY_CUSTOM_ID

# EC2 action -> (module holding the imported id function, its name there)
_ID_FUNCTIONS = {
    "CreateVpc": ("moto.ec2.models.vpcs", "random_vpc_id"),
    "CreateSubnet": ("moto.ec2.models.subnets", "random_subnet_id"),
    "CreateSecurityGroup": ("moto.ec2.models.security_groups", "random_security_group_id"),
}


def requested_id(body: bytes) -> tuple[str, str] | None:
    """(action, id) when this EC2 query-protocol body asks for a custom id, else None."""
    params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    action = (params.get("Action") or [""])[0]
    if action not in _ID_FUNCTIONS:
        return None
    for key, values in params.items():
        if key.startswith("TagSpecification.") and key.endswith(".Key") and values == [TAG_KEY_CUSTOM_ID]:
            value = params.get(key[: -len("Key")] + "Value")
            if value:
                return action, value[0]
    return None


@contextlib.contextmanager
def custom_id(body: bytes) -> Iterator[None]:
    """Within the block, the resource created by this request gets the requested id."""
    request = requested_id(body)
    if request is None:
        yield
        return
    action, wanted = request
    module_name, function = _ID_FUNCTIONS[action]
    module = importlib.import_module(module_name)
    with mock.patch.object(module, function, lambda: wanted):
        yield

"""The owner tag's value: names the installation and the attachment, and always fits AWS' 256 characters."""

from __future__ import annotations

import pytest

from lambda_vpc_operator.models import owners


def test_value_names_cluster_namespace_and_name() -> None:
    owner = owners.Owner("prod-eu", "team-a", "orders")
    assert owner.tag_value == "prod-eu/team-a/orders"
    assert owners.parse(owner.tag_value) == owner


def test_an_older_release_tag_has_no_cluster() -> None:
    assert owners.parse("team-a/orders") == owners.Owner(None, "team-a", "orders")


@pytest.mark.parametrize("value", ["", "x", "a//b", "a/b/c/d", "/a/b"])
def test_values_no_release_writes_are_not_owners(value: str) -> None:
    assert owners.parse(value) is None


def test_a_long_value_is_shortened_uniquely_and_stably() -> None:
    long_name = "n" * 253  # the longest object name Kubernetes allows
    a = owners.Owner("c" * 63, "a" * 63, long_name)
    b = owners.Owner("c" * 63, "a" * 63, long_name[:-1] + "m")
    assert len(a.tag_value) == owners.MAX_TAG_VALUE and len(b.tag_value) == owners.MAX_TAG_VALUE
    assert a.tag_value != b.tag_value
    assert a.tag_value == owners.Owner("c" * 63, "a" * 63, long_name).tag_value
    # The cluster and namespace survive shortening, so "another installation" is still recognised.
    parsed = owners.parse(a.tag_value)
    assert parsed is not None and (parsed.cluster, parsed.namespace) == ("c" * 63, "a" * 63)
    assert owners.tag_holds(a.tag_value, a) and not owners.tag_holds(a.tag_value, b)


@pytest.mark.parametrize(
    ("name", "valid"),
    [("prod", True), ("eks-prod.eu-west-1", True), ("0a1b2c3d-uid-like", True), ("", False), ("a/b", False),
     ("-a", False), ("a" * 64, False)],
)  # fmt: skip
def test_cluster_names(name: str, valid: bool) -> None:
    assert owners.valid_cluster_name(name) is valid

"""Paging of EC2 DescribeNetworkInterfaces, which moto ignores.

Why (aws-facts "EC2 request buckets and paging"): EC2 answers at most ``MaxResults`` (5..1000,
botocore ec2 model) interfaces a page with a ``nextToken`` for the rest, refuses ``MaxResults``
outside that range and with ``NetworkInterfaceId.N`` in the same request, while moto returns every
interface whatever is asked. An operator that reads one page and stops would look right against
moto and miss ENIs on AWS. moto's answer is complete, so the page is cut from it here: the
interface ``item``s past the page are removed from its XML and a ``nextToken`` is added.
"""

from __future__ import annotations

import base64
import binascii
import xml.etree.ElementTree as ET

from . import faults, wire

MIN_RESULTS, MAX_RESULTS = 5, 1000
_TOKEN_PREFIX = "sim-eni:"


def _error(code: str, message: str) -> wire.Response:
    return faults.query_error(400, code, message, "ec2")


def token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"{_TOKEN_PREFIX}{offset}".encode()).decode()


def _offset(raw: str) -> int | None:
    try:
        text = base64.urlsafe_b64decode(raw.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not text.startswith(_TOKEN_PREFIX) or not text[len(_TOKEN_PREFIX) :].isdigit():
        return None
    return int(text[len(_TOKEN_PREFIX) :])


def refusal(form: dict[str, list[str]]) -> wire.Response | None:
    """EC2's refusal of the paging parameters, before the request is served (None: acceptable)."""
    if "MaxResults" in form:
        raw = form["MaxResults"][0]
        if not raw.lstrip("-").isdigit() or not MIN_RESULTS <= int(raw) <= MAX_RESULTS:
            return _error(
                "InvalidParameterValue",
                f"Value ( {raw} ) for parameter maxResults is invalid. "
                f"Expecting a value between {MIN_RESULTS} and {MAX_RESULTS}.",
            )
        if any(key.startswith("NetworkInterfaceId.") for key in form):
            # botocore ec2 model, MaxResults: "You cannot specify this parameter and the network
            # interface IDs parameter in the same request."
            return _error(
                "InvalidParameterCombination",
                "The parameter NetworkInterfaceIds cannot be used with the parameter MaxResults",
            )
    if "NextToken" in form and _offset(form["NextToken"][0]) is None:
        return _error("InvalidParameterValue", f"Invalid value for NextToken: {form['NextToken'][0]}")
    return None


def page(form: dict[str, list[str]], response: wire.Response) -> wire.Response:
    """Cut moto's complete answer down to the page ``MaxResults``/``NextToken`` ask for."""
    if not response.ok or ("MaxResults" not in form and "NextToken" not in form):
        return response  # aws-facts: without MaxResults, every interface in one answer
    size = int(form["MaxResults"][0]) if "MaxResults" in form else MAX_RESULTS
    start = (_offset(form["NextToken"][0]) or 0) if "NextToken" in form else 0
    root = ET.fromstring(response.body)
    namespace = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    interfaces = root.find(f"{namespace}networkInterfaceSet")
    if interfaces is None:
        return response
    items = list(interfaces)
    for item in items[:start] + items[start + size :]:
        interfaces.remove(item)
    old_token = root.find(f"{namespace}nextToken")
    if old_token is not None:
        root.remove(old_token)
    if start + size < len(items):
        ET.SubElement(root, f"{namespace}nextToken").text = token(start + size)
    if namespace:
        ET.register_namespace("", namespace.strip("{}"))
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    dropped = {"content-length", "x-amz-crc32"}
    return wire.Response(response.status, [(k, v) for k, v in response.headers if k.lower() not in dropped], body)

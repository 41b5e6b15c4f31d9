"""docs/iam-policy.json grants exactly the AWS actions the operator's code can call, nothing more.

The operations are read from the source, not from a list kept by hand: every ``calling.call`` /
``calling.call_pages`` with its operation name as a string literal (the only way the operator talks
to AWS), and any boto3 client method called directly. Each operation is found in the botocore
service model of the services the operator builds clients for, and mapped to its IAM action. A new
call site without a policy change fails here; so does a policy action no code needs.
"""

from __future__ import annotations

import ast
import json
import pathlib
from collections.abc import Iterator

import botocore.session
import pytest
from botocore import xform_name

from shipping import ROOT

PACKAGE = ROOT / "operator" / "lambda_vpc_operator"
POLICY = ROOT / "docs" / "iam-policy.json"
CALLERS = {"call", "call_pages"}  # aws/calling.py
# Methods that return a boto3 client: AwsClients' (aws/clients.py) and boto3's own.
CLIENT_FACTORIES = {"lambda_", "lambda_invoke", "ec2", "sts", "client", "_client"}
# IAM actions whose name differs from the API operation's (the IAM service authorization reference).
ACTION_NAMES = {("lambda", "Invoke"): "InvokeFunction"}
# Actions AWS checks on the caller of an operation beyond the operation's own action.
# aws-facts "IAM": the caller of UpdateFunctionConfiguration with a VpcConfig needs these three, because
# Lambda reads the subnets and security groups with the caller's credentials to validate them.
# aws-facts "IAM: what the operator's own policy allows": GetFunction answers Tags "only if you have
# explicit allow permissions for lambda:ListTags" (botocore GetFunctionResponse.Tags); the operator
# reads its ownership tag there, so without ListTags every look would miss it.
IMPLIED_ACTIONS = {
    "lambda:UpdateFunctionConfiguration": {"ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs"},
    "lambda:GetFunction": {"lambda:ListTags"},
}


# Operations IAM does not authorize at all, so a policy cannot (and need not) grant them.
NO_PERMISSION_NEEDED = {
    # STS: "No permissions are required to perform this operation" (even an explicit deny cannot stop it).
    "sts:GetCallerIdentity",
}


def operator_modules() -> Iterator[pathlib.Path]:
    """The operator's code: everything but the sandbox (emulators and simulators are not deployed)."""
    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" not in path.relative_to(PACKAGE).parts:
            yield path


def client_services() -> set[str]:
    """The services the operator builds boto3 clients for: ``_client("lambda", ...)`` in aws/clients.py."""
    tree = ast.parse((PACKAGE / "aws" / "clients.py").read_text())
    services = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "_client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    assert services, "aws/clients.py builds no client: has the way clients are built changed?"
    return services


def _client_names(tree: ast.AST) -> set[str]:
    """Expressions bound to a boto3 client: ``ec2 = self.clients.ec2(region)``, ``self._x = ...``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _makes_client(node.value):
            names.update(ast.unparse(target) for target in node.targets)
    return names


def _makes_client(node: ast.AST) -> bool:
    """A call of a client factory: ``clients.lambda_()``, ``clients.ec2()``, ``session.client()``..."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CLIENT_FACTORIES


def operations_in(source: str, methods: dict[str, str], *, through_calling: bool = True) -> Iterator[tuple[str, int]]:
    """(operation, line) of each AWS request in a module's source.

    ``methods`` maps boto3 method names (get_function) to operations (GetFunction).
    """
    tree = ast.parse(source)
    clients = _client_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if through_calling and name in CALLERS:
            operation = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(operation, ast.Constant) and isinstance(operation.value, str)):
                raise ValueError(f"line {node.lineno}: the operation must be a string literal to be audited")
            yield operation.value, node.lineno
        elif isinstance(node.func, ast.Attribute) and name in methods:
            receiver = node.func.value
            if _makes_client(receiver) or ast.unparse(receiver) in clients:
                yield methods[name], node.lineno  # a boto3 method called directly


def boto3_methods() -> dict[str, str]:
    session = botocore.session.get_session()
    return {
        xform_name(operation): operation
        for service in client_services()
        for operation in session.get_service_model(service).operation_names
    }


def called_operations() -> dict[str, set[str]]:
    """Every operation the operator's modules can send, with the files that send it."""
    methods = boto3_methods()
    found: dict[str, set[str]] = {}
    for path in operator_modules():
        where = str(path.relative_to(ROOT))
        try:
            # calling.py itself is the generic sender: its `call` takes the operation as a parameter.
            for operation, _ in operations_in(path.read_text(), methods, through_calling=path.name != "calling.py"):
                found.setdefault(operation, set()).add(where)
        except ValueError as exc:
            pytest.fail(f"{where}: {exc}")
    return found


def iam_actions() -> dict[str, str]:
    """IAM action -> the operation that needs it."""
    session = botocore.session.get_session()
    services = client_services()
    actions: dict[str, str] = {}
    for operation in called_operations():
        owners = [s for s in sorted(services) if operation in session.get_service_model(s).operation_names]
        assert len(owners) == 1, f"{operation} is an operation of {owners or 'none'} of {sorted(services)}"
        (service,) = owners
        prefix = session.get_service_model(service).metadata.get("signingName", service)
        actions[f"{prefix}:{ACTION_NAMES.get((service, operation), operation)}"] = operation
    return actions


def policy_actions() -> set[str]:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    granted: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = statement["Action"]
        granted.update([actions] if isinstance(actions, str) else actions)
    return granted


def test_only_the_aws_package_imports_boto3() -> None:
    """Clients are built in aws/ alone, so the call sites above are all the places AWS is called."""
    outside = []
    for path in operator_modules():
        if path.relative_to(PACKAGE).parts[0] == "aws":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module]
            if any(m.split(".")[0] in ("boto3", "botocore") for m in modules):
                outside.append(str(path.relative_to(ROOT)))
    assert outside == []


def test_direct_boto3_calls_are_found() -> None:
    """The parser sees client methods called directly, not only requests sent through calling.call."""
    source = (
        "ec2 = self.clients.ec2(region)\n"
        "ec2.describe_route_tables()\n"
        "self._lambda = self.clients.lambda_(region)\n"
        "self._lambda.get_function_configuration()\n"
        "self.clients.lambda_invoke(region).invoke()\n"
        "await calling.call(client, 'GetFunction', budget)\n"
        "self.functions.invoke(ref)\n"  # our own wrapper, not a boto3 call
    )
    found = [operation for operation, _ in operations_in(source, boto3_methods())]
    assert sorted(found) == ["DescribeRouteTables", "GetFunction", "GetFunctionConfiguration", "Invoke"]


def test_an_operation_name_must_be_a_literal() -> None:
    with pytest.raises(ValueError, match="string literal"):
        list(operations_in("await calling.call(client, name, budget)\n", boto3_methods()))


def test_the_code_calls_aws_only_through_known_operations() -> None:
    operations = called_operations()
    # The operations every version so far has needed; a guard that the parsing still finds calls.
    assert {"GetFunction", "UpdateFunctionConfiguration", "DescribeSubnets"} <= set(operations)


def needed_actions() -> set[str]:
    needed = set(iam_actions())
    for action in list(needed):
        needed |= IMPLIED_ACTIONS.get(action, set())
    return needed - NO_PERMISSION_NEEDED


def test_the_policy_grants_every_action_the_code_needs() -> None:
    needed = needed_actions()
    missing = needed - policy_actions()
    assert not missing, f"add to docs/iam-policy.json: {sorted(missing)}"


def test_the_policy_grants_nothing_more() -> None:
    needed = needed_actions()
    extra = policy_actions() - needed
    assert not extra, f"no code calls these: remove them from docs/iam-policy.json: {sorted(extra)}"


# Where each action may point: IAM's resource types for it (the service authorization reference).
RESOURCE_SCOPES = {
    "lambda": "arn:aws:lambda:*:*:function:*",  # every Lambda action we call but ListFunctions
    "iam": "arn:aws:iam::*:role/*",  # SimulatePrincipalPolicy: the execution roles it checks
    "sts": "arn:aws:iam::*:role/*",  # AssumeRole: the roles of other accounts (spec.roleArn, defaultRoleArn)
}
# Actions that support no resource-level scope: granted on "*" (lambda:ListFunctions, EC2 Describe*).
UNSCOPED = {"lambda:ListFunctions"}


def test_no_wildcard_actions_and_narrow_resources() -> None:
    policy = json.loads(POLICY.read_text())
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert all("*" not in action for action in actions), statement
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if resources == ["*"]:
            assert all(a in UNSCOPED or a.startswith("ec2:Describe") for a in actions), statement
        else:
            services = {action.split(":")[0] for action in actions}
            assert len(services) == 1, statement
            assert resources == [RESOURCE_SCOPES[services.pop()]], statement


def test_get_function_implies_list_tags() -> None:
    """The operator reads its ownership tag from GetFunction's Tags, which the model says need ListTags."""
    model = botocore.session.get_session().get_service_model("lambda")
    documentation = model.shape_for("GetFunctionResponse").members["Tags"].documentation
    assert "explicit allow permissions for" in documentation and "lambda:ListTags" in documentation
    assert "GetFunction" in called_operations()
    assert "lambda:ListTags" in needed_actions()

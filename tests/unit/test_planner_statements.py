"""The IAM statement of a tenant policy, and `lambda-vpc-operator policy iam -f`."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest
import yaml

from lambda_vpc_operator import cli
from lambda_vpc_operator.models.policies import PolicySpec
from lambda_vpc_operator.planner import statements

REPO = pathlib.Path(__file__).resolve().parents[2]


def spec(**fields: Any) -> PolicySpec:
    return PolicySpec.model_validate({"namespaceSelector": {}, **fields})


def test_full_policy() -> None:
    result = statements.statement(
        "team-a",
        spec(
            functions=["team-a-*", "arn:aws:lambda:us-east-1:123456789012:function:shared-?"],
            vpcIds=["vpc-2", "vpc-1"],
            subnetIds=["subnet-b", "subnet-a"],
            securityGroupIds=["sg-1"],
        ),
    )
    assert result == {
        "Sid": "LambdaVpcPolicyTeamA",
        "Effect": "Allow",
        "Action": ["lambda:CreateFunction", "lambda:UpdateFunctionConfiguration"],
        "Resource": [
            "arn:aws:lambda:*:*:function:team-a-*",
            "arn:aws:lambda:us-east-1:123456789012:function:shared-?",
        ],
        "Condition": {
            # aws-facts "IAM": ForAllValues on the list keys; lambda:VpcIds holds the request's one VPC.
            "StringEquals": {"lambda:VpcIds": ["vpc-1", "vpc-2"]},
            "ForAllValues:StringEquals": {
                "lambda:SubnetIds": ["subnet-a", "subnet-b"],
                "lambda:SecurityGroupIds": ["sg-1"],
            },
        },
    }


def test_absent_lists_give_no_condition_and_every_function() -> None:
    result = statements.statement("open", spec())
    assert result["Resource"] == "arn:aws:lambda:*:*:function:*"
    assert "Condition" not in result


def test_only_the_constrained_keys_appear() -> None:
    result = statements.statement("subnets-only", spec(subnetIds=["subnet-a"]))
    assert result["Condition"] == {"ForAllValues:StringEquals": {"lambda:SubnetIds": ["subnet-a"]}}


def test_partition() -> None:
    assert statements.function_resource("orders", "aws-cn") == "arn:aws-cn:lambda:*:*:function:orders"


def test_character_classes_cannot_be_expressed() -> None:
    with pytest.raises(statements.NotExpressible, match=r"\[\.\.\.\]"):
        statements.statement("classes", spec(functions=["team-[ab]-*"]))


def test_document_holds_one_statement_per_policy() -> None:
    document = statements.policy_document([("a", spec()), ("b-2", spec(vpcIds=["vpc-1"]))])
    assert document["Version"] == "2012-10-17"
    assert [s["Sid"] for s in document["Statement"]] == ["LambdaVpcPolicyA", "LambdaVpcPolicyB2"]


# --- the command --------------------------------------------------------------------------------


def test_cli_prints_the_statement_of_the_sandbox_policy(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["policy", "iam", "-f", str(REPO / "examples" / "kubectl" / "00-policy.yaml")]) == 0
    document = json.loads(capsys.readouterr().out)
    (statement,) = document["Statement"]
    assert statement["Sid"] == "LambdaVpcPolicySandboxDefault"
    assert "arn:aws:lambda:*:*:function:inventory-*" in statement["Resource"]
    assert statement["Condition"]["StringEquals"] == {"lambda:VpcIds": ["vpc-0dedicated", "vpc-0demo"]}


def test_cli_reads_several_documents_and_skips_other_kinds(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump_all([
        {"apiVersion": "lambdavpc.dev/v1alpha1", "kind": "LambdaVpcPolicy", "metadata": {"name": "one"},
         "spec": {"namespaceSelector": {}}},
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}},
        {"apiVersion": "lambdavpc.dev/v1alpha1", "kind": "LambdaVpcPolicy", "metadata": {"name": "two"},
         "spec": {"namespaceSelector": {}, "subnetIds": ["subnet-a"]}},
    ]))  # fmt: skip
    assert cli.main(["policy", "iam", "-f", str(path)]) == 0
    assert [s["Sid"] for s in json.loads(capsys.readouterr().out)["Statement"]] == [
        "LambdaVpcPolicyOne",
        "LambdaVpcPolicyTwo",
    ]


@pytest.mark.parametrize(
    ("content", "error"),
    [
        pytest.param("kind: Namespace\n", "no LambdaVpcPolicy", id="no-policy"),
        pytest.param("kind: LambdaVpcPolicy\nmetadata: {name: x}\nspec: {vpcIds: []}\n", "LambdaVpcPolicy x",
                     id="invalid"),
        pytest.param("kind: LambdaVpcPolicy\nmetadata: {name: x}\nspec: {namespaceSelector: {}, functions: ['[ab]']}\n",
                     "character class", id="not-expressible"),
    ],
)  # fmt: skip
def test_cli_refuses(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], content: str, error: str
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(content)
    assert cli.main(["policy", "iam", "-f", str(path)]) == 2
    assert error in capsys.readouterr().err


def test_crd_command_writes_every_crd(tmp_path: pathlib.Path) -> None:
    assert cli.main(["crd", "--output-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lambdavpcattachments.yaml", "lambdavpcpolicies.yaml"]
    for path in tmp_path.iterdir():
        assert path.read_text() == (REPO / "crds" / path.name).read_text()


def test_policy_iam_prints_the_trust_policy_of_each_role(tmp_path: pathlib.Path, capsys: Any) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "apiVersion: lambdavpc.dev/v1alpha1\nkind: LambdaVpcPolicy\nmetadata: {name: partner}\n"
        "spec:\n  namespaceSelector: {}\n  defaultRoleArn: arn:aws:iam::222222222222:role/target\n"
        "---\napiVersion: lambdavpc.dev/v1alpha1\nkind: LambdaVpcAttachment\nmetadata: {name: a, namespace: b}\n"
        "spec: {functionName: f, roleArn: 'arn:aws:iam::222222222222:role/target', externalId: ext-1,\n"
        "       subnetIds: [subnet-1], securityGroupIds: [sg-1]}\n"
    )
    operator = "arn:aws:iam::123456789012:role/lambda-vpc-operator"
    assert cli.main(["policy", "iam", "-f", str(path), "--operator-role-arn", operator]) == 0
    identity, trust = capsys.readouterr().out.split("# Trust policy of role arn:aws:iam::222222222222:role/target")
    assert json.loads(identity)["Statement"][0]["Action"] == list(statements.ACTIONS)
    (allow,) = json.loads(trust.split("\n", 1)[1])["Statement"]
    assert allow["Principal"] == {"AWS": operator}
    assert allow["Condition"] == {"StringEquals": {"sts:ExternalId": "ext-1"}}

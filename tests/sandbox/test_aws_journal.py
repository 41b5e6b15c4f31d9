"""The request journal (``aws.journal``): every request with its sender, answer and, for Lambda
writes, the VpcConfig it carried, faults included (what the chaos run's checks read)."""

from __future__ import annotations

import botocore.exceptions
import pytest

from conftest_aws import AwsEnv, aws_clients_fixture, aws_fixture, aws_simulator_fixture  # noqa: F401
from lambda_vpc_sandbox.aws.seeding import client


def test_journal_names_sender_function_and_written_vpc_config(aws: AwsEnv) -> None:
    named = client("lambda", aws.endpoint_url, user_agent_appid="replica-7",
                   retries={"mode": "standard", "total_max_attempts": 1})  # fmt: skip
    start = aws.control.journal()[-1]["seq"] + 1 if aws.control.journal() else 0
    vpc = {"SubnetIds": [aws.demo.private_subnet_a_id], "SecurityGroupIds": [aws.demo.app_sg_id]}
    named.update_function_configuration(FunctionName="orders-api", VpcConfig=vpc)
    named.get_function(FunctionName="billing-worker")
    aws.control.inject_faults([{"operations": "lambda:TagResource", "kind": "reset"}])
    arn = aws.lam.get_function(FunctionName="reports-cron")["Configuration"]["FunctionArn"]
    with pytest.raises(botocore.exceptions.HTTPClientError):
        named.tag_resource(Resource=arn, Tags={"k": "v"})

    entries = aws.control.journal(since=start)
    write, read = entries[0], entries[1]
    assert (write["operation"], write["function"], write["agent"], write["status"]) == (
        "lambda:UpdateFunctionConfiguration", "orders-api", "replica-7", 200,
    )  # fmt: skip
    assert write["write"] is True and write["body"]["VpcConfig"] == vpc
    assert (read["operation"], read["function"], read.get("write", False), read.get("body")) == (
        "lambda:GetFunction", "billing-worker", False, None,
    )  # fmt: skip
    reset = [e for e in entries if e["operation"] == "lambda:TagResource"]
    assert reset and all(e["status"] == 0 and e["function"] == "reports-cron" for e in reset), reset
    assert reset[0]["body"] == {"Tags": {"k": "v"}}
    writes = aws.control.journal(since=start, writes_only=True)
    assert {e["operation"] for e in writes} == {"lambda:UpdateFunctionConfiguration", "lambda:TagResource"}
    aws.control.clear_journal()
    assert aws.control.journal(since=start) == []

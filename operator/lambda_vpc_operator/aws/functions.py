"""Lambda functions as the operator reads and changes them: the only module calling the Lambda API.

Each method is one request (or one per page), metered by the budget AWS meters it in
(aws-facts "Rate limits"): GetFunction by its own 100/s bucket, every other control-plane call by
the 15/s bucket the whole account shares; Invoke (data plane) by neither. Answers are parsed into
``models.functions.FunctionObservation`` here, so nothing above this layer sees a botocore response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from lambda_vpc_operator.aws import budgets, calling, clients, errors
from lambda_vpc_operator.models import functions

# AWS returns at most 50 functions a page, whatever MaxItems says (ListFunctions, aws-facts).
LIST_PAGE_SIZE = 50

# Told (region, function name) after each write that went through: the observer's last reading of
# that function is then out of date (aws.observer).
WriteListener = Callable[[str, str], None]


@dataclasses.dataclass(frozen=True)
class InvokeResult:
    """What Invoke answered: 200 RequestResponse, 202 Event, 204 DryRun."""

    status_code: int
    payload: bytes = b""
    function_error: str | None = None  # set when the function itself failed (Unhandled, Handled)
    executed_version: str | None = None


class LambdaFunctions:
    """The Lambda calls of the operator, each one request through ``calling.call``."""

    def __init__(self, clients: clients.AwsClients, budgets: budgets.RequestBudgets) -> None:
        self.clients = clients
        self.budgets = budgets
        self.listeners: list[WriteListener] = []
        # These credentials may read tags (an answer of GetFunction with Tags, or of ListTags): from
        # then on a GetFunction answer without Tags means a function without tags (aws-facts "IAM").
        self.tags_readable = False

    def _wrote(self, region: str, name: str) -> None:
        for listener in self.listeners:
            listener(region, name)

    def region_of(self, ref: functions.FunctionRef) -> str:
        return ref.region or self.clients.default_region

    def control_budget(self, ref: functions.FunctionRef) -> budgets.RequestBudget:
        """The shared budget (15/s per account and region) that ``ref``'s writes take a token from."""
        return self.budgets.control(self.region_of(ref))

    async def get(self, ref: functions.FunctionRef) -> functions.FunctionObservation:
        """GetFunction: the only read with State and LastUpdateStatus. Raises FunctionNotFound."""
        region = self.region_of(ref)
        response = await calling.call(
            self.clients.lambda_(region),
            "GetFunction",
            self.budgets.get_function(region),
            FunctionName=ref.api_name,
        )
        # GetFunction answers Tags beside Configuration only to a caller allowed lambda:ListTags, and
        # none for a function without tags (aws-facts "IAM"): no Tags is "no tags" only once these
        # credentials were seen to read tags; until then it is no answer (None), and a claim asks ListTags.
        tags = response.get("Tags")
        if tags is not None:
            self.tags_readable = True
        elif self.tags_readable:
            tags = {}
        with errors.reading("GetFunction"):
            return functions.FunctionObservation.from_aws(response["Configuration"], tags)

    async def update_vpc(
        self,
        ref: functions.FunctionRef,
        vpc: functions.VpcSettings,
        revision_id: str | None = None,
        *,
        priority: budgets.Priority = budgets.Priority.SPEC_CHANGE,
        ticket: budgets.Ticket | None = None,
    ) -> functions.FunctionObservation:
        """UpdateFunctionConfiguration with only VpcConfig; RevisionId makes it conditional.

        The answer is the configuration as accepted, normally LastUpdateStatus=InProgress: subnet and
        security-group problems arrive later as LastUpdateStatus=Failed, not as errors here.
        """
        region = self.region_of(ref)
        params: dict[str, Any] = {"FunctionName": ref.api_name, "VpcConfig": vpc.to_aws()}
        if revision_id:
            params["RevisionId"] = revision_id
        response = await calling.call(
            self.clients.lambda_(region),
            "UpdateFunctionConfiguration",
            self.budgets.control(region),
            priority=priority,
            ticket=ticket,
            **params,
        )
        self._wrote(region, ref.name)
        with errors.reading("UpdateFunctionConfiguration"):
            return functions.FunctionObservation.from_aws(response)

    async def invoke(
        self,
        ref: functions.FunctionRef,
        payload: bytes = b"",
        invocation_type: str = "RequestResponse",
    ) -> InvokeResult:
        """Invoke once, with retries off. An Inactive function raises ``errors.FunctionNotReady``.

        No budget: Invoke is the data plane, limited by concurrency, not by the control plane's 15/s.
        """
        region = self.region_of(ref)
        # Its own threads (calling.INVOKE_THREADS): a RequestResponse invoke holds one for as long as
        # the function runs (up to 15 minutes), and must never take one from the looks.
        response = await calling.call(
            self.clients.lambda_invoke(region),
            "Invoke",
            None,
            calling.INVOKES,
            FunctionName=ref.api_name,
            InvocationType=invocation_type,
            Payload=payload,
        )
        body = response.get("Payload")
        return InvokeResult(
            status_code=int(response.get("StatusCode", 0)),
            payload=body.read() if body is not None else b"",
            function_error=response.get("FunctionError"),
            executed_version=response.get("ExecutedVersion"),
        )

    async def list_functions(self, region: str | None = None) -> AsyncIterator[functions.FunctionObservation]:
        """ListFunctions ($LATEST only), page by page, each page under the control-plane budget.

        Items carry VpcConfig but not State, StateReason(Code) or LastUpdateStatus(Reason/Code)
        (aws-facts): those fields of the observations are None; ask ``get`` for them.
        """
        region = region or self.clients.default_region
        marker: str | None = None
        while True:
            found, marker = await self.list_page(region, marker)
            for observation in found:
                yield observation
            if not marker:
                return

    async def list_page(
        self, region: str, marker: str | None = None
    ) -> tuple[list[functions.FunctionObservation], str | None]:
        """One ListFunctions page (at most ``LIST_PAGE_SIZE``) and the NextMarker (None: the last page)."""
        params: dict[str, Any] = {"MaxItems": LIST_PAGE_SIZE}
        if marker:
            params["Marker"] = marker
        # A sweep looks for drift: it waits behind the spec changes users are waiting for.
        page = await calling.call(
            self.clients.lambda_(region),
            "ListFunctions",
            self.budgets.control(region),
            priority=budgets.Priority.DRIFT,
            **params,
        )
        with errors.reading("ListFunctions"):
            found = [functions.FunctionObservation.from_aws(item) for item in page.get("Functions") or ()]
        return found, page.get("NextMarker") or None

    async def list_tags(
        self, arn: str, *, priority: budgets.Priority = budgets.Priority.SPEC_CHANGE
    ) -> dict[str, str]:
        """ListTags on a function ARN: the tags even where GetFunction omits them (aws-facts "IAM")."""
        region = _arn_region(arn) or self.clients.default_region
        try:
            response = await calling.call(
                self.clients.lambda_(region), "ListTags", self.budgets.control(region), priority=priority, Resource=arn
            )
        except errors.AccessDenied:
            self.tags_readable = False  # a policy changed, or grants ListTags on some functions only
            raise
        self.tags_readable = True
        return {str(k): str(v) for k, v in (response.get("Tags") or {}).items()}

    async def tag(
        self,
        arn: str,
        tags: Mapping[str, str],
        *,
        priority: budgets.Priority = budgets.Priority.OWNERSHIP,
        ticket: budgets.Ticket | None = None,
    ) -> None:
        """TagResource on a function ARN (its region is read from the ARN)."""
        region = _arn_region(arn) or self.clients.default_region
        await calling.call(
            self.clients.lambda_(region),
            "TagResource",
            self.budgets.control(region),
            priority=priority,
            ticket=ticket,
            Resource=arn,
            Tags=dict(tags),
        )
        self._wrote(region, _arn_name(arn))

    async def untag(self, arn: str, keys: Sequence[str]) -> None:
        """UntagResource on a function ARN (a deletion removes our owner tag)."""
        region = _arn_region(arn) or self.clients.default_region
        await calling.call(
            self.clients.lambda_(region),
            "UntagResource",
            self.budgets.control(region),
            priority=budgets.Priority.OWNERSHIP,
            Resource=arn,
            TagKeys=list(keys),
        )
        self._wrote(region, _arn_name(arn))


def _arn_region(arn: str) -> str | None:
    """arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME -> REGION."""
    parts = arn.split(":")
    if len(parts) > 3 and parts[0] == "arn" and parts[3]:
        return parts[3]
    return None


def _arn_name(arn: str) -> str:
    """arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME -> NAME (a bare name stays itself)."""
    parts = arn.split(":")
    return parts[6] if len(parts) > 6 else arn

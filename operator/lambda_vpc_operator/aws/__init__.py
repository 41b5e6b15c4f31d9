"""The one place that knows AWS: API names, error codes, pagination, retries and request budgets.

Layers above (reconciler, handlers) see ``models`` objects and ``errors.AwsError`` only. Every
request runs in a worker thread (boto3 blocks), is metered by a ``budgets.RequestBudget``, counted
in ``metrics.calls`` and translated by ``errors.translate``. ``AwsGateway`` bundles the pieces one
operator process needs.
"""

from __future__ import annotations

import dataclasses

import boto3

from lambda_vpc_operator.aws import (
    aliases,
    budgets,
    clients,
    functions,
    identities,
    interfaces,
    networks,
    observer,
    observing,
    roles,
    routes,
    selections,
)
from lambda_vpc_operator.aws.budgets import DEFAULT_CONTROL_RATE, DEFAULT_GET_FUNCTION_RATE
from lambda_vpc_operator.models.settings import DEFAULT_LIFECYCLE_INTERVAL, DEFAULT_RESYNC_INTERVAL


@dataclasses.dataclass(frozen=True)
class AwsGateway:
    """Everything that talks to AWS, built once per operator process."""

    clients: clients.AwsClients
    budgets: budgets.RequestBudgets
    functions: functions.LambdaFunctions
    networks: networks.Networks
    observer: observing.Observer
    interfaces: interfaces.Interfaces
    # The guardrails' facts (reconciliation.guarding): execution roles, route tables, our account.
    roles: roles.Roles
    routes: routes.RouteTables
    identity: identities.Identity
    # Aliases and the VpcConfig of the versions they invoke (status.aliases, AliasesCurrent).
    aliases: aliases.Aliases
    # Subnets and groups chosen by tags (spec.subnetSelector, spec.securityGroupSelector).
    selections: selections.Selections

    @classmethod
    def create(
        cls,
        default_region: str,
        control_rate: float = DEFAULT_CONTROL_RATE,
        get_function_rate: float = DEFAULT_GET_FUNCTION_RATE,
        session: boto3.Session | None = None,
        sweep_interval: float = DEFAULT_RESYNC_INTERVAL,  # one sweep per resync
        lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL,
    ) -> AwsGateway:
        aws_clients = clients.AwsClients(default_region, session=session)
        request_budgets = budgets.RequestBudgets(control_rate, get_function_rate)
        lambda_functions = functions.LambdaFunctions(aws_clients, request_budgets)
        known = networks.Networks(aws_clients)
        return cls(
            clients=aws_clients,
            budgets=request_budgets,
            functions=lambda_functions,
            networks=known,
            observer=observer.SweepingObserver(
                lambda_functions, sweep_interval=sweep_interval, lifecycle_interval=lifecycle_interval
            ),
            interfaces=interfaces.Interfaces(aws_clients),
            roles=roles.Roles(aws_clients),
            routes=routes.RouteTables(aws_clients),
            identity=identities.Identity(aws_clients),
            aliases=aliases.Aliases(aws_clients, request_budgets),
            selections=selections.Selections(aws_clients, known),
        )

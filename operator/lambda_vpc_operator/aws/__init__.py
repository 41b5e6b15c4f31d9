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
    accounts,
    aliases,
    budgets,
    clients,
    enis,
    functions,
    identities,
    networks,
    observer,
    observing,
    roles,
    routes,
    selections,
)
from lambda_vpc_operator.aws.budgets import (
    DEFAULT_CONTROL_RATE,
    DEFAULT_EC2_RATE,
    DEFAULT_GET_FUNCTION_RATE,
    RequestBudgets,
)
from lambda_vpc_operator.aws.observer import SweepingObserver
from lambda_vpc_operator.models.settings import DEFAULT_LIFECYCLE_INTERVAL, DEFAULT_RESYNC_INTERVAL


@dataclasses.dataclass(frozen=True)
class AwsGateway:
    """Everything that talks to AWS, built once per operator process."""

    clients: clients.AwsClients
    budgets: budgets.RequestBudgets
    functions: functions.LambdaFunctions
    networks: networks.Networks
    observer: observing.Observer
    enis: enis.Interfaces
    # The guardrails' facts (reconciliation.guarding): execution roles, route tables, our account.
    roles: roles.Roles
    routes: routes.RouteTables
    identity: identities.Identity
    # Aliases and the VpcConfig of the versions they invoke (status.aliases, AliasesCurrent).
    aliases: aliases.Aliases
    # Subnets and groups chosen by tags (spec.subnetSelector, spec.securityGroupSelector).
    selections: selections.Selections
    # The role sessions of attachments in other accounts (spec.roleArn), each with a gateway of its
    # own; None in those gateways themselves (a role is never assumed through another role).
    accounts: accounts.Accounts | None = None

    @classmethod
    def create(
        cls,
        default_region: str,
        control_rate: float = DEFAULT_CONTROL_RATE,
        get_function_rate: float = DEFAULT_GET_FUNCTION_RATE,
        session: boto3.Session | None = None,
        sweep_interval: float = DEFAULT_RESYNC_INTERVAL,  # one sweep per resync
        lifecycle_interval: float = DEFAULT_LIFECYCLE_INTERVAL,
        ec2_rate: float = DEFAULT_EC2_RATE,
        request_budgets: RequestBudgets | None = None,
        *,
        assumes: bool = True,
        shared_observer: SweepingObserver | None = None,
    ) -> AwsGateway:
        """The operator's own gateway (``assumes``: with the pool of role sessions), or, from
        ``accounts.Accounts``, a role session's, with its account's ``request_budgets`` and observer
        (``shared_observer``; None: this session starts the account's)."""
        aws_clients = clients.AwsClients(default_region, session=session)
        request_budgets = request_budgets or budgets.RequestBudgets(control_rate, get_function_rate, ec2_rate)
        lambda_functions = functions.LambdaFunctions(aws_clients, request_budgets)
        known = networks.Networks(aws_clients, budgets=request_budgets)
        own_observer = shared_observer or observer.SweepingObserver(
            lambda_functions, sweep_interval=sweep_interval, lifecycle_interval=lifecycle_interval
        )
        return cls(
            clients=aws_clients,
            budgets=request_budgets,
            functions=lambda_functions,
            networks=known,
            # A role session observes through its account's observer (one sweep per account and
            # region for all its sessions), with its own credentials.
            observer=own_observer if assumes else own_observer.through(lambda_functions),
            enis=enis.Interfaces(aws_clients, budgets=request_budgets),
            roles=roles.Roles(aws_clients),
            routes=routes.RouteTables(aws_clients, budgets=request_budgets),
            identity=identities.Identity(aws_clients),
            aliases=aliases.Aliases(aws_clients, request_budgets),
            selections=selections.Selections(aws_clients, known),
            accounts=accounts.Accounts(
                aws_clients,
                lambda role_session, role_budgets, account_observer: cls.create(
                    default_region,
                    session=role_session,
                    sweep_interval=sweep_interval,
                    lifecycle_interval=lifecycle_interval,
                    request_budgets=role_budgets,
                    assumes=False,
                    shared_observer=account_observer,
                ),
                control_rate=control_rate,
                get_function_rate=get_function_rate,
                ec2_rate=ec2_rate,
            )
            if assumes
            else None,
        )

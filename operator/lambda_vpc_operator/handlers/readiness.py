"""A readiness endpoint: 200 once this replica's kopf indexes are loaded, 503 before.

kopf's own endpoint (--liveness) answers 200 as soon as the process runs, which is right for a
liveness probe and wrong for admission: a replica that has not loaded its LambdaVpcPolicy index
would judge every request against no policy (under ``enforce``: deny everything). With this
endpoint as the readiness probe, the webhook's Service sends the API server only to replicas
that can answer (docs/install.md "Admission").
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import aiohttp.web
import kopf

from lambda_vpc_operator.handlers.policies import Guardrails


def register(registry: kopf.OperatorRegistry, guardrails: Guardrails, endpoint: str | None) -> None:
    if endpoint is None:
        return
    parts = urllib.parse.urlsplit(endpoint)
    if parts.scheme != "http":
        raise ValueError(f"--readiness {endpoint}: only http://HOST:PORT/PATH is served")

    async def ready(_: aiohttp.web.Request) -> aiohttp.web.Response:
        if guardrails.indexed:
            return aiohttp.web.json_response({"ready": True})
        return aiohttp.web.json_response({"ready": False, "why": "the kopf indexes are not loaded yet"}, status=503)

    @kopf.on.startup(id="serve_readiness", registry=registry)
    async def serve_readiness(memo: Any, **_: Any) -> None:
        app = aiohttp.web.Application()
        app.add_routes([aiohttp.web.get(parts.path or "/", ready)])
        runner = aiohttp.web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await aiohttp.web.TCPSite(runner, parts.hostname or "0.0.0.0", parts.port or 80).start()
        memo["readiness_runner"] = runner  # kept alive for the operator's life

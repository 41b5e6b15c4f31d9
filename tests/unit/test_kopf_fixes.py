"""handlers.kopf_fixes: a kopf watcher or worker that ends releases its indexing hold."""

from __future__ import annotations

import asyncio

from kopf._cogs.aiokits import aiotoggles
from kopf._core.reactor import queueing

from lambda_vpc_operator.handlers import kopf_fixes


def test_installs_on_the_pinned_kopf_once() -> None:
    assert kopf_fixes.install()
    watcher = queueing.watcher
    assert kopf_fixes.install()
    assert queueing.watcher is watcher  # not wrapped twice


def test_a_cancelled_coroutine_releases_its_hold() -> None:
    async def main() -> tuple[bool, bool]:
        holds = aiotoggles.ToggleSet(all)
        hold = await holds.make_toggle(name="attachments@doomed")  # off until the first list is done

        async def lists_for_ever(**_: object) -> None:
            await asyncio.Event().wait()

        task = asyncio.create_task(kopf_fixes._releasing(lists_for_ever)(operator_indexed=holds, resource_indexed=hold))
        await asyncio.sleep(0)
        before = holds.is_on()
        task.cancel()  # kopf stopping the watcher of a deleted namespace
        await asyncio.gather(task, return_exceptions=True)
        return before, holds.is_on()

    assert asyncio.run(main()) == (False, True)


def test_a_coroutine_without_holds_is_left_as_it_was() -> None:
    async def main() -> str:
        async def returns(**_: object) -> None:
            return None

        await kopf_fixes._releasing(returns)(operator_indexed=None, resource_indexed=None)
        return "ok"

    assert asyncio.run(main()) == "ok"

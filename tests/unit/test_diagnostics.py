"""handlers.diagnostics: SIGUSR1 names every asyncio task and where it waits."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from lambda_vpc_operator.handlers import diagnostics


async def _waits_for_ever(event: asyncio.Event) -> None:
    await event.wait()


def test_each_task_is_named_with_the_function_it_waits_in() -> None:
    async def main() -> list[str]:
        event = asyncio.Event()
        waiter = asyncio.create_task(_waits_for_ever(event), name="the-waiter")
        await asyncio.sleep(0)
        lines = diagnostics.task_stacks()
        event.set()
        await waiter
        return lines

    lines = asyncio.run(main())
    (line,) = [line for line in lines if line.startswith("the-waiter: ")]
    assert "_waits_for_ever (test_diagnostics.py:" in line and "wait (asyncio/locks.py:" in line


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1 here")
def test_sigusr1_logs_the_stacks(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, diagnostics.log_task_stacks)
        os.kill(os.getpid(), signal.SIGUSR1)
        await asyncio.sleep(0.1)

    with caplog.at_level(logging.WARNING, logger=diagnostics.__name__):
        asyncio.run(main())
    (record,) = caplog.records
    assert record.getMessage().startswith("SIGUSR1: ") and "main (test_diagnostics.py:" in record.getMessage()

"""``kill -USR1 <pid>``: the operator logs where every one of its asyncio tasks is waiting.

An operator that stops acting without an error (a watch, a lock or a kopf queue waiting for ever)
says nothing in its log; this is the answer to "what is it waiting for?" without a debugger,
a restart or verbose logs (docs/operations.md "An operator that does nothing").
"""

from __future__ import annotations

import asyncio
import logging
import signal
from types import FrameType
from typing import Any

import kopf

logger = logging.getLogger(__name__)

FRAMES = 16  # innermost frames per task: enough to see kopf's wait and who called it


def task_stacks() -> list[str]:
    """One line per task of the running loop: its name and its stack, outermost call first."""
    lines = []
    for task in sorted(asyncio.all_tasks(), key=lambda t: t.get_name()):
        frames = _awaited_frames(task.get_coro())[-FRAMES:]
        where = " > ".join(f"{f.f_code.co_name} ({_short(f.f_code.co_filename)}:{f.f_lineno})" for f in frames)
        lines.append(f"{task.get_name()}: {where or 'not started'}")
    return lines


def _awaited_frames(awaitable: Any) -> list[FrameType]:
    """The frames of a suspended coroutine and of what it awaits, down the chain.

    (Task.get_stack gives only the outermost frame of a suspended coroutine.)
    """
    frames: list[FrameType] = []
    while awaitable is not None and len(frames) < 64:
        frame = getattr(awaitable, "cr_frame", None) or getattr(awaitable, "gi_frame", None) \
            or getattr(awaitable, "ag_frame", None)
        if frame is not None:
            frames.append(frame)
        awaitable = getattr(awaitable, "cr_await", None) or getattr(awaitable, "gi_yieldfrom", None) \
            or getattr(awaitable, "ag_await", None)
    return frames


def _short(path: str) -> str:
    parts = path.replace("\\", "/").split("/")
    for root in ("kopf", "lambda_vpc_operator", "asyncio", "aiohttp"):
        if root in parts:
            return "/".join(parts[parts.index(root):])
    return parts[-1]


def log_task_stacks() -> None:
    lines = task_stacks()
    logger.warning("SIGUSR1: %d asyncio tasks\n%s", len(lines), "\n".join(lines))


def register(registry: kopf.OperatorRegistry) -> None:
    @kopf.on.startup(id="diagnostics", registry=registry)
    async def on_usr1(**_: Any) -> None:
        if hasattr(signal, "SIGUSR1"):  # not on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, log_task_stacks)

"""Torch threads by phase on the CPU.

The CPU physics backend steps every environment on its own pool of all cores; between its steps those cores
are idle. Torch runs on one thread by default (tools/cli.py: its many small per-step operations lose to
thread overhead), and the few large batched network passes, the flow prior's Push and the PPO update, run
on every core through `every_core()`.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import torch


def num_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextmanager
def every_core():
    previous = torch.get_num_threads()
    torch.set_num_threads(num_cores())
    try:
        yield
    finally:
        torch.set_num_threads(previous)

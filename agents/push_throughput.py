"""Push throughput of a task's flow priors against one control step of the task (tools/benchmark_push.py).

Push runs as the steering action spaces run it: no_grad, on every core (agents/threads.py), random weights of
each prior variant's sizes, for each number of Euler steps asked, on the CPU and on CUDA when available. The
share is the Push time per environment (a batch of `num_envs`) over the task's step time per environment.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch

from agents.flow_matching import FlowPrior
from agents.threads import every_core


def median_time(fn: Callable[[], object], repeats: int, sync: Callable[[], None]) -> float:
    """Median seconds of `fn` over `repeats` calls after two warm-up calls."""
    times = []
    for i in range(repeats + 2):
        sync()
        tic = time.perf_counter()
        fn()
        sync()
        if i >= 2:
            times.append(time.perf_counter() - tic)
    return statistics.median(times)


def push_time(model: FlowPrior, batch: int, device: str, repeats: int, euler_steps: int) -> float:
    cond = torch.randn(batch, model.cond_dim, device=device)
    a0 = torch.randn(batch, model.horizon, model.action_dim, device=device)
    sync = torch.cuda.synchronize if device == "cuda" else lambda: None
    with torch.no_grad(), every_core():
        return median_time(lambda: model.push(cond, a0, euler_steps), repeats, sync)


def push_throughput(env, num_states: int, repeats: int, euler_steps: list[int], seed: int) -> dict:
    """The task's step time per environment and, per prior variant, device and Euler steps, the Push figures."""
    generator = torch.Generator(device=env.device).manual_seed(seed)

    def step() -> None:  # random actions in [-1, 1]
        env.step(2 * torch.rand(env.num_envs, env.num_actions, generator=generator, device=env.device) - 1)

    sync = torch.cuda.synchronize if env.device.type == "cuda" else lambda: None
    env_step_per_env = median_time(step, repeats, sync) / env.num_envs
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    priors = {}
    for name, sizes in env.prior_io.variants.items():
        model = FlowPrior(**sizes).eval()
        for device in devices:
            model.to(device)
            for steps in euler_steps:
                at_states = push_time(model, num_states, device, repeats, steps)
                per_env = push_time(model, env.num_envs, device, repeats, steps) / env.num_envs
                priors[f"{name}_{device}_{steps}_steps"] = {
                    **model.config,
                    "euler_steps": steps,
                    "pushes_per_s": num_states / at_states,
                    "push_ms_per_batch": 1e3 * at_states,
                    "push_us_per_env_at_num_envs": 1e6 * per_env,
                    "push_share_of_env_step": per_env / env_step_per_env,
                }
    return {
        "num_states": num_states,
        "num_envs": env.num_envs,
        "repeats": repeats,
        "torch_threads_env_step": torch.get_num_threads(),
        "physics": env.physics.info.name,
        "physics_device": str(env.device),
        "physics_threads": env.physics.info.num_threads,
        "env_step_us_per_env": 1e6 * env_step_per_env,
        "priors": priors,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }

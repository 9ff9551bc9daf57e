"""Soak a task with random and adversarial actions: no crash, no non-finite observation or reward, and the
simulations that diverge counted (each is reset as a failed episode by `BaseEnv.step`)."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

HOLD_STEPS = 25  # control steps a saturated action is held


def action_patterns(num_envs: int, num_actions: int, generator: torch.Generator) -> dict[str, Callable]:
    """Action generators by name, each called with the step index: uniform in [-1, 1]; saturated (every dimension
    at -1 or +1, held HOLD_STEPS steps); alternating extremes (every dimension flips between -1 and +1 each step);
    far out of range (uniform in [-100, 100], which the action spaces must clip)."""
    held = torch.ones(num_envs, num_actions)
    signs = torch.ones(num_envs, num_actions)

    def uniform(_step: int) -> torch.Tensor:
        return 2 * torch.rand(num_envs, num_actions, generator=generator) - 1

    def saturated(step: int) -> torch.Tensor:
        if step % HOLD_STEPS == 0:
            held.copy_(torch.randint(0, 2, held.shape, generator=generator) * 2.0 - 1)
        return held

    def alternating(step: int) -> torch.Tensor:
        if step == 0:
            signs.copy_(torch.randint(0, 2, signs.shape, generator=generator) * 2.0 - 1)
        return signs * (1 if step % 2 == 0 else -1)

    def out_of_range(_step: int) -> torch.Tensor:
        return 200 * torch.rand(num_envs, num_actions, generator=generator) - 100

    return {"uniform": uniform, "saturated": saturated, "alternating": alternating, "out_of_range": out_of_range}


def soak(env, env_steps: int, seed: int = 0) -> dict:
    """Step `env` for at least `env_steps` environment steps, split evenly over the action patterns; returns per
    pattern the steps taken, diverged resets, steps with a non-finite observation or reward, and the exception
    that stopped it, if any."""
    generator = torch.Generator().manual_seed(seed)
    patterns = action_patterns(env.num_envs, env.num_actions, generator)
    steps_each = -(-env_steps // (len(patterns) * env.num_envs))  # at least env_steps in all
    results = {}
    for name, pattern in patterns.items():
        env.reset()
        before = env.diverged_resets
        row = {"env_steps": 0, "diverged_resets": 0, "non_finite_steps": 0, "crash": None}
        tic = time.perf_counter()
        try:
            for step in range(steps_each):
                obs, reward, _, _ = env.step(pattern(step).to(env.device))
                finite = torch.isfinite(reward).all() and all(torch.isfinite(v).all() for v in obs.values())
                row["non_finite_steps"] += int(not finite)
                row["env_steps"] += env.num_envs
        except Exception as error:  # a crash is the finding, reported rather than raised
            row["crash"] = f"{type(error).__name__}: {error}"
        row["diverged_resets"] = env.diverged_resets - before
        row["env_steps_per_s"] = row["env_steps"] / (time.perf_counter() - tic)
        results[name] = row
    return results

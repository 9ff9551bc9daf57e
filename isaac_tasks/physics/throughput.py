"""Throughput of a task's step against the bare engine's, measured in one run (tools/benchmark.py).

The task runs random actions (or a policy's: the states of a grasp in progress cost the engine several times
more than flailing fingers) while the engine state before each of its physics steps (commands and resets
included) is recorded; the bare engine then steps from exactly those states (same model, object variants,
substeps and threads), timed around the step call alone. Task and raw alternate over several rounds so that
machine load affects both alike.
"""

from __future__ import annotations

import time

import mujoco
import torch

# Everything the MuJoCo Warp engine steps from, besides the model.
_WARP_STATE = (
    "qpos",
    "qvel",
    "ctrl",
    "qfrc_applied",
    "xfrc_applied",
    "mocap_pos",
    "mocap_quat",
    "qacc_warmstart",
    "time",
)


def bare_engine(physics, decimation: int):
    """(save, load, step) of the task's engine: snapshot its full state, restore one, step it alone."""
    if physics.info.name == "mujoco":
        batch = physics.batch

        def load(state) -> None:
            batch.state[:] = state
            batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

        return (lambda: batch.state.copy()), load, (lambda: batch.step(nstep=decimation))
    fields = [getattr(physics, f"_{name}") for name in _WARP_STATE]

    def load(state) -> None:
        for field, saved in zip(fields, state):
            field.copy_(saved)

    return (lambda: [f.clone() for f in fields]), load, (lambda: physics.advance(decimation))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def task_and_raw_throughput(env, num_steps: int, rounds: int, seed: int, policy=None) -> dict:
    """Env steps/s of the task and of the bare engine from the task's own states, and their ratio. Actions are
    random or `policy`'s (observations -> actions, not timed)."""
    physics, decimation, device = env.physics, env.cfg.decimation, env.device
    save, load, bare_step = bare_engine(physics, decimation)
    generator = torch.Generator(device=device).manual_seed(seed)

    def actions(obs) -> torch.Tensor:
        if policy is not None:
            with torch.inference_mode():
                return policy(obs)
        return 2.0 * torch.rand(env.num_envs, env.num_actions, generator=generator, device=device) - 1.0

    obs = env.get_observations()
    for _ in range(5):  # warm up caches, the allocator and (on a GPU) graph capture
        obs = env.step(actions(obs))[0]

    # Record the engine state (commands and resets included) before every physics step of the task.
    states: list = []
    task_step = physics.step

    def recording_step(num_substeps: int):
        states.append(save())
        return task_step(num_substeps)

    task_time = raw_time = 0.0
    for _ in range(rounds):
        states.clear()
        physics.step = recording_step
        for _ in range(num_steps):
            action = actions(obs)
            synchronize(device)
            tic = time.perf_counter()
            obs = env.step(action)[0]
            synchronize(device)
            task_time += time.perf_counter() - tic
        physics.step = task_step
        task_state = save()
        for state in states:  # the bare engine on exactly the task's states
            load(state)
            synchronize(device)
            tic = time.perf_counter()
            bare_step()
            synchronize(device)
            raw_time += time.perf_counter() - tic
        load(task_state)  # the task continues where it was
    states.clear()
    steps = env.num_envs * num_steps * rounds
    return {
        "backend": physics.info.name,
        "device": str(device),
        "num_envs": env.num_envs,
        "control_steps_per_round": num_steps,
        "rounds": rounds,
        "decimation": decimation,
        "physics_dt": physics.info.physics_dt,
        "num_threads": physics.info.num_threads,
        "task_env_steps_per_s": steps / task_time,
        "raw_physics_env_steps_per_s": steps / raw_time,
        "raw_physics_substeps_per_s": steps * decimation / raw_time,
        "ratio_task_to_raw": raw_time / task_time,
        "actions": "random" if policy is None else "policy",
    }

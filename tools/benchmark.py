"""Task throughput against raw physics throughput, measured in one run.

    python tools/benchmark.py --task Leap-Grasp-v0 --num_envs 128 --out result.json

The task runs random actions while the full physics state before each of its physics steps (commands
and resets included) is recorded; the bare engine then steps from exactly those states (same model,
object variants, substeps and threads), timed around the step call alone. The ratio task/raw is the
share of throughput the task logic keeps. Task and raw alternate over several rounds so that machine
load affects both alike.
"""

from __future__ import annotations

import argparse
import time

import cli

import mujoco
import torch

from isaac_tasks import make_env, task_entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument("--num_steps", type=cli.positive_int, default=40, help="control steps per round")
    parser.add_argument("--rounds", type=cli.positive_int, default=3)
    parser.add_argument("--out", help="JSON file for the figures")
    args = parser.parse_args()
    task_entry(args.task)

    env = make_env(args.task, num_envs=args.num_envs, seed=args.seed, num_threads=args.num_threads)
    physics = env.physics
    if physics.info.name != "mujoco":
        raise ValueError("the raw-physics reference replays commands on the MuJoCo batch")
    batch, decimation = physics.batch, env.cfg.decimation
    generator = torch.Generator().manual_seed(args.seed)

    def random_actions() -> torch.Tensor:
        return 2.0 * torch.rand(env.num_envs, env.num_actions, generator=generator) - 1.0

    for _ in range(5):  # warm up caches and the allocator
        env.step(random_actions())

    # Record the full physics state (commands and resets included) before every physics step of the task.
    states: list = []
    task_step = physics.step

    def recording_step(num_substeps: int):
        states.append(batch.state.copy())
        return task_step(num_substeps)

    task_time = raw_time = 0.0
    for _ in range(args.rounds):
        states.clear()
        physics.step = recording_step
        tic = time.perf_counter()
        for _ in range(args.num_steps):
            env.step(random_actions())
        task_time += time.perf_counter() - tic
        physics.step = task_step
        task_state = batch.state.copy()
        for state in states:  # the bare engine on exactly the task's states
            batch.state[:] = state
            batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)
            tic = time.perf_counter()
            batch.step(nstep=decimation)
            raw_time += time.perf_counter() - tic
        batch.state[:] = task_state  # the task continues where it was
        batch.forward(stage=mujoco.mjtStage.mjSTAGE_VEL)

    steps = args.num_envs * args.num_steps * args.rounds
    result = {
        "task": args.task,
        "backend": physics.info.name,
        "num_envs": args.num_envs,
        "control_steps_per_round": args.num_steps,
        "rounds": args.rounds,
        "decimation": decimation,
        "physics_dt": physics.info.physics_dt,
        "num_threads": physics.info.num_threads,
        "task_env_steps_per_s": steps / task_time,
        "raw_physics_env_steps_per_s": steps / raw_time,
        "raw_physics_substeps_per_s": steps * decimation / raw_time,
        "ratio_task_to_raw": raw_time / task_time,
        "machine": cli.machine_info(),
    }
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)

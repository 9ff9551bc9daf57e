"""Task throughput against raw physics throughput, measured in one run.

    python tools/benchmark.py --task Leap-Grasp-v0 --num_envs 128 --out result.json

The task runs random actions from a saved physics state while the commands it sends are recorded; the
state is then restored and the same commands are replayed by the bare engine (same model, object
variants, substeps and threads). The ratio task/raw is the share of throughput the task logic keeps.
Task and replay alternate over several rounds so that machine load affects both alike.
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
    ctrl, qfrc = batch.bind("ctrl"), batch.bind("qfrc_applied")
    generator = torch.Generator().manual_seed(args.seed)

    def random_actions() -> torch.Tensor:
        return 2.0 * torch.rand(env.num_envs, env.num_actions, generator=generator) - 1.0

    for _ in range(5):  # warm up caches and the allocator
        env.step(random_actions())

    task_time = raw_time = 0.0
    for _ in range(args.rounds):
        start_state = batch.state.copy()
        commands = []
        tic = time.perf_counter()
        for _ in range(args.num_steps):
            env.step(random_actions())
            commands.append((ctrl.copy(), qfrc.copy()))
        task_time += time.perf_counter() - tic

        after_task = batch.state.copy()
        batch.state[:] = start_state
        batch.forward()
        tic = time.perf_counter()
        for ctrl_k, qfrc_k in commands:
            ctrl[:] = ctrl_k
            qfrc[:] = qfrc_k
            batch.step(nstep=decimation)
        raw_time += time.perf_counter() - tic
        batch.state[:] = after_task  # continue the task where it was
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

"""Push throughput of the flow priors against one control step of the grasping task, measured in one run.

    python tools/benchmark_push.py --num_states 4096 --num_envs 256 --out push.json

Times Push (no_grad, random weights, on every core as the steering action spaces run it, agents/threads.py)
for each number of Euler steps in --euler_steps (the priors train with 10; steering uses 2 by default,
docs/decisions.md) and the sizes of the two priors of SPEC 2-3:
hand-only (16 fingers x 2 steps, conditioned on the 16 finger joints) and hand+arm (23 x 2, conditioned on
object pose 7 + joint positions 23 + joint velocities 23), on the CPU and on CUDA when available. The share is
the Push time per environment (a batch of `num_envs`) over the Leap-Grasp-v0 step time per environment.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import cli

import torch

from agents.flow_matching import FlowPrior
from agents.threads import every_core
from isaac_tasks import make_env

PRIORS = {"hand_only": {"action_dim": 16, "cond_dim": 16}, "hand_arm": {"action_dim": 23, "cond_dim": 61}}


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


def euler_steps_list(text: str) -> list[int]:
    try:
        steps = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"needs comma-separated integers, got '{text}'") from None
    if not steps or min(steps) < 1:
        raise argparse.ArgumentTypeError(f"needs positive integers, got '{text}'")
    return steps


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--num_states", type=cli.positive_int, default=4096, help="states per Push batch")
    parser.add_argument("--num_envs", type=cli.positive_int, default=256, help="Leap-Grasp-v0 environments")
    parser.add_argument("--repeats", type=cli.positive_int, default=10, help="timed calls (median reported)")
    parser.add_argument("--euler_steps", type=euler_steps_list, default=[10, 2], help="Euler steps per Push, e.g. 10,2")
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0, help="physics threads (0: all cores)")
    parser.add_argument("--backend", choices=cli.BACKENDS, default="mujoco", help="physics of the reference step")
    parser.add_argument("--device", default="cpu", help="with --backend mujoco_warp: the simulation's device")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    device = args.device if args.backend == "mujoco_warp" else "cpu"
    env = make_env(
        "Leap-Grasp-v0",
        num_envs=args.num_envs,
        seed=args.seed,
        num_threads=args.num_threads,
        backend=args.backend,
        device=device,
    )
    generator = torch.Generator(device=env.device).manual_seed(args.seed)

    def step() -> None:  # random actions in [-1, 1]
        env.step(2 * torch.rand(env.num_envs, env.num_actions, generator=generator, device=env.device) - 1)

    sync = torch.cuda.synchronize if env.device.type == "cuda" else lambda: None
    env_step_per_env = median_time(step, args.repeats, sync) / args.num_envs

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])  # the Push on each
    priors = {}
    for name, sizes in PRIORS.items():
        model = FlowPrior(**sizes).eval()
        for device in devices:
            model.to(device)
            for steps in args.euler_steps:
                at_states = push_time(model, args.num_states, device, args.repeats, steps)
                per_env = push_time(model, args.num_envs, device, args.repeats, steps) / args.num_envs
                priors[f"{name}_{device}_{steps}_steps"] = {
                    **model.config,
                    "euler_steps": steps,
                    "pushes_per_s": args.num_states / at_states,
                    "push_ms_per_batch": 1e3 * at_states,
                    "push_us_per_env_at_num_envs": 1e6 * per_env,
                    "push_share_of_env_step": per_env / env_step_per_env,
                }

    result = {
        "num_states": args.num_states,
        "num_envs": args.num_envs,
        "repeats": args.repeats,
        "torch_threads_env_step": torch.get_num_threads(),
        "physics": env.physics.info.name,
        "physics_device": str(env.device),
        "physics_threads": env.physics.info.num_threads,
        "env_step_us_per_env": 1e6 * env_step_per_env,
        "priors": priors,
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "machine": cli.machine_info(),
    }
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)

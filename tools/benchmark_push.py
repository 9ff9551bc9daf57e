"""Push throughput of a task's flow priors against one control step of the task, measured in one run.

    python tools/benchmark_push.py --task Leap-Grasp-v0 --num_states 4096 --num_envs 256 --out push.json

Times Push (no_grad, random weights, on every core as the steering action spaces run it) for each number of
Euler steps in --euler_steps (the priors train with 10; steering uses 2 by default, docs/decisions.md) and
the sizes of each prior variant of the task (for the grasping task SPEC 2-3's hand-only, 16 fingers x 2
steps conditioned on the 16 finger joints, and hand+arm, 23 x 2 conditioned on 61 numbers), on the CPU and
on CUDA when available (agents/push_throughput.py). The share is the Push time per environment (a batch
of `num_envs`) over the task's step time per environment.
"""

from __future__ import annotations

import argparse

import cli

import torch

from agents.push_throughput import push_throughput
from isaac_tasks import make_env


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
    parser.add_argument("--task", required=True, help=f"a task with flow priors, one of: {', '.join(cli.TASKS)}")
    parser.add_argument("--num_states", type=cli.positive_int, default=4096, help="states per Push batch")
    parser.add_argument("--num_envs", type=cli.positive_int, default=256, help="environments of the task")
    parser.add_argument("--repeats", type=cli.positive_int, default=10, help="timed calls (median reported)")
    parser.add_argument("--euler_steps", type=euler_steps_list, default=[10, 2], help="Euler steps per Push, e.g. 10,2")
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0, help="physics threads (0: all cores)")
    parser.add_argument("--backend", choices=cli.BACKENDS, default="mujoco", help="physics of the reference step")
    parser.add_argument("--device", default="cpu", help="with --backend mujoco_warp: the simulation's device")
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    device = "cpu" if args.backend == "mujoco" else args.device
    settings = {"num_envs": args.num_envs, "seed": args.seed, "num_threads": args.num_threads}
    env = make_env(args.task, **settings, backend=args.backend, device=device)
    if not hasattr(env, "prior_io"):
        raise ValueError(f"task '{args.task}' has no flow priors")
    result = push_throughput(env, args.num_states, args.repeats, args.euler_steps, args.seed)
    cli.report_json({"task": args.task, **result, "machine": cli.machine_info()}, args.out)


if __name__ == "__main__":
    cli.run_main(main)

"""Task throughput against raw physics throughput, measured in one run; optionally PPO training throughput.

    python tools/benchmark.py --task Leap-Grasp-v0 --num_envs 128 --out result.json
    python tools/benchmark.py --task Leap-Grasp-v0 --backend mujoco_warp --device cuda:0 --num_envs 4096 --ppo_iterations 5

The task runs random actions while the engine state before each of its physics steps (commands and
resets included) is recorded; the bare engine then steps from exactly those states (same model, object
variants, substeps and threads), timed around the step call alone (isaac_tasks/physics/throughput.py). The
ratio task/raw is the share of throughput the task logic keeps. Task and raw alternate over several rounds
so that machine load affects both alike. With --ppo_iterations, the real rsl-rl runner then trains for that
many iterations after one warm-up iteration, timed end to end, rollout and update apart, with its ratio to
raw physics. The action space is chosen with --action_space (with --prior_checkpoint for the steering spaces).
With --checkpoint a trained policy acts instead of random actions (in its own action space), so that the
states are those of training: a grasp in progress costs the engine several times more than random flailing.
"""

from __future__ import annotations

import argparse

import cli

from agents.ppo_runner import env_overrides
from agents.training import ppo_throughput
from distill.policy import load_any_policy, read_policy_infos
from isaac_tasks import make_agent_cfg, make_env, task_entry
from isaac_tasks.physics.throughput import task_and_raw_throughput


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument("--num_steps", type=cli.positive_int, default=40, help="control steps per round")
    parser.add_argument("--rounds", type=cli.positive_int, default=3)
    parser.add_argument("--ppo_iterations", type=cli.non_negative_int, default=0, help="PPO iterations to time (0: none)")  # fmt: skip
    parser.add_argument("--action_space", help="one of the task's action spaces (default: the task's own)")
    parser.add_argument("--prior_checkpoint", type=cli.existing_file, help="flow prior of the steering action spaces")
    parser.add_argument("--checkpoint", type=cli.existing_file, help="a policy (model_<N>.pt) acts instead of random actions")  # fmt: skip
    cli.add_env_override_args(parser)
    parser.add_argument("--out", type=cli.output_file, help="JSON file for the figures")
    args = parser.parse_args()
    task_entry(args.task)

    overrides = cli.task_overrides(args)
    for name in ("action_space", "prior_checkpoint"):
        if getattr(args, name):
            overrides[name] = getattr(args, name)
    overrides.update(cli.env_config_overrides(args))
    if args.checkpoint:
        overrides.update(env_overrides(read_policy_infos(args.checkpoint, args.task)))
    env = make_env(args.task, **overrides)
    policy = load_any_policy(env, args.task, args.checkpoint, make_agent_cfg(args.task))[1] if args.checkpoint else None
    result = {"task": args.task, **task_and_raw_throughput(env, args.num_steps, args.rounds, args.seed, policy)}
    if getattr(env.cfg, "action_space", None):
        result["action_space"] = env.cfg.action_space
    if args.ppo_iterations:
        result.update(ppo_throughput(env, args.task, args.ppo_iterations, args.seed, args.device))
        result["ratio_ppo_to_raw"] = result["ppo_env_steps_per_s"] / result["raw_physics_env_steps_per_s"]
    result["backend_info"] = env.physics.info.extra
    result["machine"] = cli.machine_info()
    cli.report_json(result, args.out)


if __name__ == "__main__":
    cli.run_main(main)

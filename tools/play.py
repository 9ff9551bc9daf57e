"""Evaluate a checkpoint over N episodes and export its policy to TorchScript and ONNX.

    python tools/play.py --task Leap-Grasp-v0 --checkpoint logs/rsl_rl/leap_grasp/<run>/model_499.pt

Episodes are counted in rounds in which every environment contributes exactly its next episode, so
short (successful or failed) episodes are not over-represented. Exports go to <run>/exported/.
"""

from __future__ import annotations

import argparse
import os

import cli

import torch

from agents.ppo_runner import PPORunner, read_checkpoint
from isaac_tasks import make_agent_cfg, make_env, task_entry


@torch.inference_mode()
def evaluate(env, policy, num_episodes: int) -> dict[str, float]:
    """Mean of each episode metric (Metrics/*) over num_episodes complete episodes."""
    records: dict[str, list[torch.Tensor]] = {}
    done_so_far = 0
    while done_so_far < num_episodes:
        round_size = min(env.num_envs, num_episodes - done_so_far)
        recorded = torch.zeros(env.num_envs, dtype=torch.bool)
        recorded[round_size:] = True  # environments beyond this round's size run but are not counted
        obs = env.reset()
        while not recorded.all():
            obs, _, dones, extras = env.step(policy(obs))
            ended = dones.cpu() & ~recorded
            if ended.any():
                ids = dones.nonzero().squeeze(-1).cpu()
                keep = ~recorded[ids]
                for key, value in extras["log"].items():
                    if key.startswith("Metrics/") and isinstance(value, torch.Tensor) and len(value) == len(ids):
                        records.setdefault(key, []).append(value.cpu()[keep])
                if hasattr(env, "object_is_power"):  # split success by grasp family
                    power = env.object_is_power[ids].cpu()[keep]
                    success = extras["log"]["Metrics/success_rate"].cpu()[keep]
                    records.setdefault("Metrics/success_pinch", []).append(success[~power])
                    records.setdefault("Metrics/success_power", []).append(success[power])
                recorded |= ended
        done_so_far += round_size
        print(f"  {done_so_far}/{num_episodes} episodes")
    results = {key: float(torch.cat(values).float().mean()) for key, values in records.items() if sum(map(len, values))}
    results["episodes"] = float(num_episodes)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_task_args(parser, num_envs=128)
    parser.add_argument("--checkpoint", required=True, help="model_<iteration>.pt written by train.py")
    parser.add_argument("--episodes", type=cli.positive_int, default=1024, help="episodes to evaluate")
    parser.add_argument("--export_dir", help="where to write policy.pt and policy.onnx (default: <run>/exported)")
    args = parser.parse_args()
    task_entry(args.task)
    info = read_checkpoint(args.checkpoint, task=args.task)["infos"]

    overrides = {"num_envs": args.num_envs, "seed": args.seed, "num_threads": args.num_threads}
    if info.get("action_space"):
        overrides["action_space"] = info["action_space"]
    env = make_env(args.task, **overrides)
    runner = PPORunner(env, make_agent_cfg(args.task), task=args.task, log_dir=None)
    runner.load(args.checkpoint)
    policy = runner.get_inference_policy()

    print(f"Evaluating {args.checkpoint} over {args.episodes} episodes ({args.num_envs} environments)")
    results = evaluate(env, policy, args.episodes)
    for key, value in results.items():
        print(f"{key}: {value:.4f}")

    export_dir = args.export_dir or os.path.join(os.path.dirname(os.path.abspath(args.checkpoint)), "exported")
    runner.export_policy_to_jit(export_dir, "policy.pt")
    runner.export_policy_to_onnx(export_dir, "policy.onnx")
    print(f"Exported TorchScript and ONNX policies to {export_dir}")


if __name__ == "__main__":
    cli.run_main(main)

"""Roll out a teacher checkpoint and write a point-cloud distillation dataset (format: distill/dataset.py).

    python tools/collect_distill.py --teacher checkpoints/leap_grasp_rfs_hand_arm.pt --out datasets/distill

Rounds of `--num_envs` episodes (each environment's first episode after a reset) run until the shards
hold `--num_demos` successful episodes (or `--max_rounds` rounds ran). Each round has its own seed and
is written as one shard, atomically: an interrupted run resumes after its last finished round and the
dataset loses and duplicates nothing (distill/collect.py). Only successful episodes are kept unless
--keep_failed.
"""

from __future__ import annotations

import argparse

import cli

from distill.collect import collect


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", type=cli.existing_file, required=True, help="a policy checkpoint (tools/train.py)")
    parser.add_argument("--out", type=cli.output_folder, required=True, help="dataset folder (shards are added to it)")
    parser.add_argument("--num_demos", type=cli.positive_int, default=1800, help="successful episodes to collect")
    parser.add_argument("--max_rounds", type=cli.positive_int, default=10_000, help="stop after this many rounds")
    parser.add_argument("--keep_failed", action="store_true", help="also store failed episodes (not counted)")
    parser.add_argument("--num_envs", type=cli.positive_int, default=64)
    parser.add_argument("--seed", type=cli.non_negative_int, default=0)
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--episode_length_s", type=cli.positive_float, help="override the task's episode length")
    cli.add_point_cloud_args(parser)
    args = parser.parse_args()
    settings = {"num_threads": args.num_threads}
    if args.episode_length_s is not None:
        settings["episode_length_s"] = args.episode_length_s
    collected, episodes_run, rounds = collect(
        args.teacher, args.out, cli.point_cloud_cfg(args), args.num_demos, args.num_envs, args.max_rounds,
        args.keep_failed, args.seed, settings,
    )  # fmt: skip
    rate = collected / max(episodes_run, 1)
    print(
        f"{args.out}: {collected} successful episodes of {episodes_run} (teacher success {rate:.3f}) in {rounds} rounds"
    )
    if collected < args.num_demos:
        print(f"warning: stopped at --max_rounds {args.max_rounds} short of --num_demos {args.num_demos}")


if __name__ == "__main__":
    cli.run_main(main)

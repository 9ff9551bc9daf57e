"""Roll out a teacher checkpoint and write a point-cloud distillation dataset (format: distill/dataset.py).

    python tools/collect_distill.py --teacher logs/rsl_rl/leap_grasp/<run>/model_1499.pt --out datasets/distill

Rounds of `--num_envs` episodes (each environment's first episode after a reset) run until the shards
hold `--num_demos` successful episodes (or `--max_rounds` rounds ran). Each round has its own seed and
is written as one shard, atomically: an interrupted run resumes after its last finished round and the
dataset loses and duplicates nothing. Only successful episodes are kept unless --keep_failed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os

import cli

import torch
from tqdm import tqdm

from agents.demonstrations import privileged_state
from distill.dataset import DistillEpisode, read_shard_attrs, shard_path, shard_paths, write_shard
from distill.point_cloud import PointCloudSensor
from distill.student import proprioception
from distill.teacher import TASK, execute, load_teacher, teacher_command


@torch.inference_mode()
def collect_round(env, teacher, sensor: PointCloudSensor, size: int, keep_failed: bool) -> list[DistillEpisode]:
    """The first episode of environments 0..size-1 after a reset, executed by the teacher."""
    obs = env.reset()
    sensor.reset(torch.arange(env.num_envs))
    steps: list[dict[str, torch.Tensor]] = []
    ended_at = torch.full((env.num_envs,), -1)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    while (ended_at[:size] < 0).any():
        step = {"point_cloud": sensor(), "proprio": proprioception(env), "states": privileged_state(env)}
        teacher_actions = teacher(obs)
        step["actions"] = teacher_command(env, teacher_actions)
        execute(env, step["actions"])
        obs, step["rewards"], step["dones"], extras = env.step(teacher_actions)
        steps.append({key: value.cpu() for key, value in step.items()})
        ids = step["dones"].nonzero().squeeze(-1).cpu()
        if len(ids):
            first = ended_at[ids] < 0
            ended_at[ids[first]] = len(steps)
            success[ids[first]] = extras["log"]["Metrics/success_rate"].cpu()[first].bool()
            sensor.reset(ids)
    episodes = []
    for i in range(size):
        if not (success[i] or keep_failed):
            continue
        length, obj = int(ended_at[i]), env.objects[int(env.object_index[i])]
        fields = {key: torch.stack([s[key][i] for s in steps[:length]]).numpy() for key in steps[0]}
        episodes.append(DistillEpisode(**fields, success=bool(success[i]), grasp_type=obj.grasp_type, object=obj.name))
    return episodes


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--teacher", type=cli.existing_file, required=True, help="a Leap-Grasp-v0 policy checkpoint (tools/train.py)"
    )
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
    pc_cfg = cli.point_cloud_cfg(args)

    settings = {"num_envs": args.num_envs, "seed": args.seed, "num_threads": args.num_threads, "disturbance_scale": 0.0}
    if args.episode_length_s is not None:
        settings["episode_length_s"] = args.episode_length_s
    env, teacher, _ = load_teacher(args.teacher, **settings)
    generator = torch.Generator()
    sensor = PointCloudSensor(env.physics, pc_cfg, generator)
    attrs = {
        "teacher": os.path.abspath(args.teacher),
        "point_cloud": json.dumps(dataclasses.asdict(pc_cfg)),
        "env_args": json.dumps(
            {"env_cfg": dataclasses.asdict(env.cfg), "seed": args.seed, "keep_failed": args.keep_failed}
        ),
    }

    done = shard_paths(args.out) if os.path.isdir(args.out) else []
    if [os.path.basename(p) for p in done] != [os.path.basename(shard_path(args.out, k)) for k in range(len(done))]:
        raise ValueError(
            f"{args.out}: shards are not rounds 0..{len(done) - 1} in order; not a dataset this tool can resume"
        )
    collected = episodes_run = 0
    for path in done:  # a damaged or foreign shard stops the resume before any work
        shard = read_shard_attrs(path, TASK)
        if shard["point_cloud"] != attrs["point_cloud"] or shard["teacher"] != attrs["teacher"]:
            raise ValueError(f"{path} was collected with another teacher or point-cloud config; use a new --out")
        collected += int(shard["num_successes"])
        episodes_run += int(shard["episodes_run"])
    if done:
        print(f"Resuming: {len(done)} rounds with {collected} successful episodes already in {args.out}")

    with tqdm(total=args.num_demos, initial=min(collected, args.num_demos), unit="demo") as progress:
        k = len(done)
        while collected < args.num_demos and k < args.max_rounds:
            env.generator.manual_seed(args.seed * 100_003 + k)  # each round reproducible on its own
            generator.manual_seed(args.seed * 100_003 + k)
            episodes = collect_round(env, teacher, sensor, args.num_envs, args.keep_failed)
            successes = sum(e.success for e in episodes)
            shard_attrs = {**attrs, "round": k, "num_successes": successes, "episodes_run": args.num_envs}
            os.makedirs(args.out, exist_ok=True)
            write_shard(shard_path(args.out, k), TASK, episodes, shard_attrs)
            collected += successes
            episodes_run += args.num_envs
            progress.update(min(successes, args.num_demos - progress.n))
            k += 1
    rate = collected / max(episodes_run, 1)
    print(f"{args.out}: {collected} successful episodes of {episodes_run} (teacher success {rate:.3f}) in {k} rounds")
    if collected < args.num_demos:
        print(f"warning: stopped at --max_rounds {args.max_rounds} short of --num_demos {args.num_demos}")


if __name__ == "__main__":
    cli.run_main(main)

"""A point-cloud distillation dataset from a teacher's rollouts (format: distill/dataset.py), resumable.

Rounds of `num_envs` episodes (each environment's first episode after a reset) run until the shards hold
`num_demos` successful episodes (or `max_rounds` rounds ran). Each round has its own seed and is written as
one shard, atomically: an interrupted run resumes after its last finished round and the dataset loses and
duplicates nothing. Only successful episodes are kept unless `keep_failed`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import torch
from tqdm import tqdm

from distill.dataset import DistillEpisode, read_shard_attrs, shard_path, shard_paths, sizes_of, write_shard
from distill.point_cloud import PointCloudCfg, PointCloudSensor
from distill.teacher import execute, load_teacher, teacher_command


@torch.inference_mode()
def collect_round(env, teacher, sensor: PointCloudSensor, size: int, keep_failed: bool) -> list[DistillEpisode]:
    """The first episode of environments 0..size-1 after a reset, executed by the teacher."""
    obs = env.reset()
    sensor.reset(torch.arange(env.num_envs))
    steps: list[dict[str, torch.Tensor]] = []
    ended_at = torch.full((env.num_envs,), -1)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    while (ended_at[:size] < 0).any():
        step = {"point_cloud": sensor(), "proprio": env.proprioception(), "states": env.privileged_state()}
        teacher_actions = teacher(obs)
        step["actions"] = teacher_command(env, teacher_actions)
        execute(env, step["actions"])
        obs, step["rewards"], step["dones"], extras = env.step(teacher_actions)
        steps.append({key: value.cpu() for key, value in step.items()})
        ids = step["dones"].nonzero().squeeze(-1).cpu()
        if len(ids):
            first = ended_at[ids] < 0
            ended_at[ids[first]] = len(steps)
            success[ids[first]] = extras["log"][f"Metrics/{env.primary_metric}"].cpu()[first].bool()
            sensor.reset(ids)
    episodes = []
    splits = env.split_of(torch.arange(size, device=env.device))  # the episodes' grasp family and object
    family, obj = splits["family"].cpu(), splits["object"].cpu()
    families, objects = env.episode_splits["family"], env.episode_splits["object"]
    for i in range(size):
        if not (success[i] or keep_failed):
            continue
        length = int(ended_at[i])
        fields = {key: torch.stack([s[key][i] for s in steps[:length]]).numpy() for key in steps[0]}
        labels = {"grasp_type": families[int(family[i])], "object": objects[int(obj[i])]}
        episodes.append(DistillEpisode(**fields, success=bool(success[i]), **labels))
    return episodes


def collect(
    teacher_path: str,
    out: str,
    point_cloud: PointCloudCfg,
    num_demos: int,
    num_envs: int,
    max_rounds: int = 10_000,
    keep_failed: bool = False,
    seed: int = 0,
    env_settings: dict | None = None,
) -> tuple[int, int, int]:
    """Collect into the dataset folder `out` (resuming its rounds); returns (successful episodes, episodes run,
    rounds). `env_settings` override the teacher's task config (disturbances are off unless set)."""
    settings = {"num_envs": num_envs, "seed": seed, "disturbance_scale": 0.0, **(env_settings or {})}
    env, teacher, _ = load_teacher(teacher_path, commands=True, **settings)
    task = env.cfg.task_id
    generator = torch.Generator()
    sensor = PointCloudSensor(env.physics, point_cloud, generator)
    attrs = {
        "teacher": os.path.abspath(teacher_path),
        "sizes": json.dumps(sizes_of(env)),
        "point_cloud": json.dumps(dataclasses.asdict(point_cloud)),
        "env_args": json.dumps({"env_cfg": dataclasses.asdict(env.cfg), "seed": seed, "keep_failed": keep_failed}),
    }

    done = shard_paths(out) if os.path.isdir(out) else []
    if [os.path.basename(p) for p in done] != [os.path.basename(shard_path(out, k)) for k in range(len(done))]:
        raise ValueError(
            f"{out}: shards are not rounds 0..{len(done) - 1} in order; not a dataset this tool can resume"
        )
    collected = episodes_run = 0
    for path in done:  # a damaged or foreign shard stops the resume before any work
        shard = read_shard_attrs(path, task)
        if shard["point_cloud"] != attrs["point_cloud"] or shard["teacher"] != attrs["teacher"]:
            raise ValueError(f"{path} was collected with another teacher or point-cloud config; use a new --out")
        collected += int(shard["num_successes"])
        episodes_run += int(shard["episodes_run"])
    if done:
        print(f"Resuming: {len(done)} rounds with {collected} successful episodes already in {out}")

    with tqdm(total=num_demos, initial=min(collected, num_demos), unit="demo") as progress:
        k = len(done)
        while collected < num_demos and k < max_rounds:
            env.generator.manual_seed(seed * 100_003 + k)  # each round reproducible on its own
            generator.manual_seed(seed * 100_003 + k)
            episodes = collect_round(env, teacher, sensor, num_envs, keep_failed)
            successes = sum(e.success for e in episodes)
            shard_attrs = {**attrs, "round": k, "num_successes": successes, "episodes_run": num_envs}
            os.makedirs(out, exist_ok=True)
            write_shard(shard_path(out, k), task, episodes, shard_attrs)
            collected += successes
            episodes_run += num_envs
            progress.update(min(successes, num_demos - progress.n))
            k += 1
    return collected, episodes_run, k

"""Demonstrations of a task's scripted demonstrator, in parallel environments, resumable (format:
agents/demonstrations.py).

Rounds of `num_envs` episodes (one per environment) are written as shards next to the output
(<out>.shards/, each shard atomically); an interrupted run resumes from the shards it finished, and each
round has its own seed, so nothing is lost or duplicated. The shards are merged into the output file
(atomically) at the end. The demonstrator acts in the task's `scripted_env` and `demo_env` settings
(isaac_tasks/__init__.py), under the given settings on top.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import shutil

import torch
from tqdm import tqdm

from agents.demonstrations import Episode, load_demos, write_demos
from isaac_tasks import load_entry_point, make_env, task_entry


def demonstrator(task: str, env, generator: torch.Generator | None = None):
    path = task_entry(task).scripted_policy
    if not path:
        raise ValueError(f"task '{task}' has no scripted demonstrator")
    return load_entry_point(path)(env, generator)


def demo_settings(task: str, **settings) -> dict:
    """The config settings of demonstration episodes: the task's, then `settings`."""
    entry = task_entry(task)
    return {**dict(entry.scripted_env), **dict(entry.demo_env), **settings}


@torch.inference_mode()
def collect_round(env, script, size: int) -> list[Episode]:
    """The first episode of environments 0..size-1 after a reset.

    Per step: the observation and state before it, the command, the reward and done flag `env.step` returns,
    and the observation after it. That is the next step's observation, except at an episode's last step,
    where `env.step` has already reset the environment: there it is the terminal observation, taken inside
    `env.step` just before the reset (the task's `_reset_idx` hook is wrapped for the round).
    """
    env.reset()
    script.reset(torch.arange(env.num_envs))
    steps: list[tuple[dict, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]] = []
    ended_at = torch.full((env.num_envs,), -1)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    terminal: dict[int, dict[str, torch.Tensor]] = {}  # environment -> observation ending its first episode
    reset_idx = env._reset_idx

    def snapshot_then_reset(env_ids: torch.Tensor) -> None:
        obs = env.demo_observation()
        for i in env_ids.tolist():
            if i < size and i not in terminal:
                terminal[i] = {key: value[i] for key, value in obs.items()}
        reset_idx(env_ids)

    env._reset_idx = snapshot_then_reset
    try:
        while (ended_at[:size] < 0).any():
            obs, state = env.demo_observation(), env.privileged_state()
            command = script.command()
            _, reward, dones, extras = env.step(script.actions(command))
            steps.append((obs, state, command, reward, dones))
            ids = dones.nonzero().squeeze(-1)
            if len(ids):
                first = ended_at[ids] < 0
                ended_at[ids[first]] = len(steps)
                success[ids[first]] = extras["log"][f"Metrics/{env.primary_metric}"][first].bool()
                script.reset(ids)
    finally:
        del env._reset_idx  # the task's own method again
    splits = env.split_of(torch.arange(size, device=env.device))  # the episodes' grasp family and object
    families, objects = env.episode_splits["family"], env.episode_splits["object"]
    episodes = []
    for i in range(size):
        length = int(ended_at[i])
        obs = {key: torch.stack([o[key][i] for o, *_ in steps[:length]]).cpu() for key in steps[0][0]}
        episodes.append(
            Episode(
                obs={key: value.numpy() for key, value in obs.items()},
                next_obs={key: torch.cat((obs[key][1:], terminal[i][key][None].cpu())).numpy() for key in obs},
                states=torch.stack([st[i] for _, st, *_ in steps[:length]]).cpu().numpy(),
                actions=torch.stack([c[i] for _, _, c, *_ in steps[:length]]).cpu().numpy(),
                rewards=torch.stack([r[i] for *_, r, _ in steps[:length]]).float().cpu().numpy(),
                dones=torch.stack([d[i] for *_, d in steps[:length]]).long().cpu().numpy(),
                success=bool(success[i]),
                grasp_type=families[int(splits["family"][i])],
                object=objects[int(splits["object"][i])],
            )
        )
    return episodes


def generate_demos(task: str, out: str, num_demos: int, num_envs: int, seed: int = 0, **settings) -> list[Episode]:
    """Write `num_demos` demonstrations of `task` to `out`, resuming the rounds finished in <out>.shards/;
    returns them."""
    shard_dir = out + ".shards"
    os.makedirs(shard_dir, exist_ok=True)
    num_rounds = -(-num_demos // num_envs)
    done = sorted(glob.glob(os.path.join(shard_dir, "round_*.hdf5")))
    if done:
        print(f"Resuming: {len(done)} of {num_rounds} rounds already in {shard_dir}")
    env = make_env(task, num_envs=num_envs, seed=seed, **demo_settings(task, **settings))
    generator = torch.Generator()
    script = demonstrator(task, env, generator)
    env_args = {"env_cfg": dataclasses.asdict(env.cfg), "script": dataclasses.asdict(script.cfg), "seed": seed}
    with tqdm(total=num_demos, initial=min(len(done) * num_envs, num_demos), unit="demo") as progress:
        for k in range(len(done), num_rounds):
            size = min(num_envs, num_demos - k * num_envs)
            env.generator.manual_seed(seed * 100_003 + k)  # each round reproducible on its own
            generator.manual_seed(seed * 100_003 + k)
            episodes = collect_round(env, script, size)
            write_demos(os.path.join(shard_dir, f"round_{k:04d}.hdf5"), task, episodes, env_args)
            progress.update(size)
    shards = sorted(glob.glob(os.path.join(shard_dir, "round_*.hdf5")))
    episodes = [e for path in shards for e in load_demos(path, task)][:num_demos]
    write_demos(out, task, episodes, env_args)
    shutil.rmtree(shard_dir)
    return episodes


def film_demonstrator(task: str, seed: int, video: dict, **settings) -> str:
    """Film the scripted demonstrator on video["num_envs"] fresh environments; returns the path written."""
    from isaac_tasks.evaluation.video import record

    env = make_env(task, **demo_settings(task, **settings), num_envs=video["num_envs"], seed=seed)
    script = demonstrator(task, env, torch.Generator().manual_seed(seed))

    def act(_obs) -> torch.Tensor:
        fresh = (env.episode_length_buf == 0).nonzero().squeeze(-1)  # episodes starting now: plan a grasp
        if len(fresh):
            script.reset(fresh)
        return script.actions(script.command())

    return record(env, act, **video)

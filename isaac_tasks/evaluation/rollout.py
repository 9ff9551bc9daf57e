"""Run a policy for an exact number of complete episodes and collect per-episode values."""

from __future__ import annotations

from typing import Callable

import torch

PerStep = Callable[[object], dict[str, torch.Tensor]]
SPLIT = "split/"  # key prefix of the per-episode split labels


@torch.inference_mode()
def run_episodes(
    env, policy, num_episodes: int, per_step: PerStep | None = None, label: str = ""
) -> dict[str, torch.Tensor]:
    """Per-episode values (num_episodes,) of every `Metrics/*` the task logs, of the per-episode maximum
    of each (N,) quantity `per_step(env)` returns for the state after every step (an episode's last
    state, replaced by the reset, is not seen), and the label index of each of the task's
    `episode_splits` (under `split/<name>`).

    Episodes are counted in rounds in which every environment contributes exactly its next episode, so
    short (successful or failed) episodes are not over-represented.
    """
    records: dict[str, list[torch.Tensor]] = {}
    done_so_far = 0
    while done_so_far < num_episodes:
        round_size = min(env.num_envs, num_episodes - done_so_far)
        recorded = torch.zeros(env.num_envs, dtype=torch.bool)
        recorded[round_size:] = True  # environments beyond this round's size run but are not counted
        obs = env.reset()
        running_max = {key: value.cpu() for key, value in (per_step(env) if per_step else {}).items()}
        while not recorded.all():
            obs, _, dones, extras = env.step(policy(obs))
            ended = dones.cpu()
            ids = ended.nonzero().squeeze(-1)
            keep = ~recorded[ids]
            if keep.any():
                for key, value in extras["log"].items():
                    if key.startswith("Metrics/") and isinstance(value, torch.Tensor) and len(value) == len(ids):
                        records.setdefault(key.removeprefix("Metrics/"), []).append(value.cpu()[keep])
                for key, value in running_max.items():
                    records.setdefault(key, []).append(value[ids][keep])
                for name, index in env.split_of(ids).items():
                    records.setdefault(SPLIT + name, []).append(index.cpu()[keep])
                recorded[ids] = True
            # An ended environment has already been reset: its state now starts the next episode.
            for key, value in (per_step(env) if per_step else {}).items():
                value = value.cpu()
                running_max[key] = torch.where(ended, value, torch.maximum(running_max[key], value))
        done_so_far += round_size
        print(f"  {label}{done_so_far}/{num_episodes} episodes", flush=True)
    return {key: torch.cat(values) for key, values in records.items()}


def summarize(episodes: dict[str, torch.Tensor], env=None) -> dict[str, float]:
    """Means of the per-episode values, and the environment's primary metric within each label of its
    episode splits, named after the metric without its `_rate` (`success_pinch`, `success_bottle`)."""
    summary = {
        key: float(value.float().mean()) for key, value in episodes.items() if not key.startswith(SPLIT) and len(value)
    }
    metric = getattr(env, "primary_metric", "")
    if metric in episodes:
        for name, labels in env.episode_splits.items():
            for k, label in enumerate(labels):
                mine = episodes[SPLIT + name] == k
                if mine.any():
                    summary[f"{metric.removesuffix('_rate')}_{label}"] = float(episodes[metric][mine].float().mean())
    summary["episodes"] = float(len(next(iter(episodes.values()))))
    return summary

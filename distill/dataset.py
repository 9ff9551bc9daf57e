"""Distillation datasets on disk: a folder of HDF5 shards, each written atomically, validated on load.

    <folder>/shard_<k>.hdf5
    /data                       attrs: env_name (task id), format_version, num_episodes (stored), round (k),
                                 episodes_run and num_successes (of the round), teacher (checkpoint path),
                                 point_cloud (JSON config), env_args (JSON), sizes (JSON: the widths
                                 R, S, A below, `sizes_of(env)`)
    /data/demo_<i>/obs/point_cloud  (T, P, 3) float: base-frame point cloud before the student's noise
    /data/demo_<i>/obs/proprio      (T, R) float: the task's `env.proprioception()`
    /data/demo_<i>/states       (T, S) float: the task's `env.privileged_state()`
    /data/demo_<i>/actions      (T, A) float: the teacher's executed hand_arm command (the label)
    /data/demo_<i>/rewards      (T,) float
    /data/demo_<i>/dones        (T,) bool: true at the last step
    /data/demo_<i>              attrs: num_samples (T), success (bool), grasp_type, object

A shard of a round in which no episode was kept holds no demo groups (num_episodes = 0): it still records
that the round is done. A shard that cannot be read, or whose fields are missing, have the wrong shape or
hold non-finite values, is damaged: `load_dataset` refuses it, or reports and skips it when asked to.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys
from dataclasses import dataclass

import h5py
import numpy as np

from agents.demonstrations import read_array
from distill.student import student_sizes

FORMAT_VERSION = 2  # 1 had no sizes
SHARD_PATTERN = re.compile(r"shard_(\d+)\.hdf5$")


class DistillDataError(ValueError):
    """A damaged or foreign shard; the message names the file and the field."""


@dataclass
class DistillEpisode:
    point_cloud: np.ndarray
    proprio: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    success: bool
    grasp_type: str
    object: str

    def __len__(self) -> int:
        return len(self.actions)


def shard_path(folder: str, round_index: int) -> str:
    return os.path.join(folder, f"shard_{round_index:05d}.hdf5")


def shard_paths(folder: str) -> list[str]:
    """Shards of `folder` in round order (temporary files of an interrupted write are not shards)."""
    paths = [p for p in glob.glob(os.path.join(folder, "shard_*.hdf5")) if SHARD_PATTERN.search(p)]
    return sorted(paths, key=lambda p: int(SHARD_PATTERN.search(p).group(1)))


def sizes_of(env) -> dict[str, int]:
    """The widths of a shard's per-step fields for `env`'s task."""
    sizes = student_sizes(env)
    return {"proprio": sizes["proprio_dim"], "states": env.privileged_state().shape[-1], "actions": sizes["action_dim"]}


def write_shard(path: str, task: str, episodes: list[DistillEpisode], attrs: dict) -> None:
    """Write `episodes` to `path` atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        data.attrs.update(env_name=task, format_version=FORMAT_VERSION, num_episodes=len(episodes), **attrs)
        for i, e in enumerate(episodes):
            group = data.create_group(f"demo_{i}")
            group.attrs.update(num_samples=len(e), success=e.success, grasp_type=e.grasp_type, object=e.object)
            obs = group.create_group("obs")
            steps = min(len(e), 32)
            obs.create_dataset(
                "point_cloud", data=e.point_cloud.astype(np.float32), chunks=(steps, *e.point_cloud.shape[1:])
            )
            obs.create_dataset("proprio", data=e.proprio.astype(np.float32))
            group.create_dataset("states", data=e.states.astype(np.float32))
            group.create_dataset("actions", data=e.actions.astype(np.float32))
            group.create_dataset("rewards", data=e.rewards.astype(np.float32))
            group.create_dataset("dones", data=e.dones.astype(bool))
    os.replace(tmp, path)


def read_shard_attrs(path: str, task: str) -> dict:
    """The /data attributes of a shard, checked to be ours and of `task`."""
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DistillDataError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        if "data" not in f:
            raise DistillDataError(f"{path}: /data is missing (empty shard)")
        attrs = dict(f["data"].attrs)
    if attrs.get("env_name") != task:
        raise DistillDataError(f"{path}: env_name is '{attrs.get('env_name')}', expected '{task}'")
    if (
        attrs.get("format_version") != FORMAT_VERSION
        or not {"num_episodes", "num_successes", "episodes_run", "point_cloud", "sizes"} <= attrs.keys()
    ):
        raise DistillDataError(f"{path}: not a distillation shard of format version {FORMAT_VERSION}")
    try:
        sizes = json.loads(attrs["sizes"])  # checked by read_shard_attrs
    except (TypeError, ValueError):
        sizes = None
    if (
        not isinstance(sizes, dict)
        or sorted(sizes) != ["actions", "proprio", "states"]
        or not all(isinstance(v, int) and v > 0 for v in sizes.values())
    ):
        raise DistillDataError(f"{path}: /data sizes is not a JSON dict of positive actions, proprio and states widths")
    return attrs


def load_shard(path: str, task: str) -> tuple[list[DistillEpisode], dict]:
    """Every episode of one shard, checked field by field, and the shard's attributes."""
    attrs = read_shard_attrs(path, task)
    num_points = json.loads(attrs["point_cloud"])["num_points"]
    sizes = json.loads(attrs["sizes"])  # checked by read_shard_attrs
    episodes = []
    with h5py.File(path, "r") as f:
        data = f["data"]
        names = [k for k in data if k.startswith("demo_")]
        if len(names) != attrs["num_episodes"]:
            raise DistillDataError(
                f"{path}: holds {len(names)} episodes, its num_episodes says {attrs['num_episodes']}"
            )
        for name in sorted(names, key=lambda k: int(k.split("_")[1])):
            group = data[name]
            actions = read_array(path, group, "actions", (sizes["actions"],), None, DistillDataError)
            if len(actions) == 0:
                raise DistillDataError(f"{path}: {group.name}/actions is empty")
            if "obs" not in group:
                raise DistillDataError(f"{path}: {group.name}/obs is missing")
            length = len(actions)
            for attr in ("success", "grasp_type", "object"):
                if attr not in group.attrs:
                    raise DistillDataError(f"{path}: {group.name} attribute '{attr}' is missing")
            episodes.append(
                DistillEpisode(
                    point_cloud=read_array(
                        path, group["obs"], "point_cloud", (num_points, 3), length, DistillDataError
                    ),
                    proprio=read_array(path, group["obs"], "proprio", (sizes["proprio"],), length, DistillDataError),
                    states=read_array(path, group, "states", (sizes["states"],), length, DistillDataError),
                    actions=actions,
                    rewards=read_array(path, group, "rewards", (), length, DistillDataError),
                    dones=read_array(path, group, "dones", (), length, DistillDataError),
                    success=bool(group.attrs["success"]),
                    grasp_type=str(group.attrs["grasp_type"]),
                    object=str(group.attrs["object"]),
                )
            )
    return episodes, attrs


def load_dataset(folder: str, task: str, skip_damaged: bool = False) -> list[DistillEpisode]:
    """Every episode of every shard of `folder`. A damaged shard raises DistillDataError, or with
    `skip_damaged` is reported on stderr and left out. All shards must share one point-cloud config and sizes."""
    paths = shard_paths(folder)
    if not paths:
        raise DistillDataError(f"{folder}: no distillation shards (shard_<k>.hdf5)")
    episodes, point_cloud = [], None
    for path in paths:
        try:
            shard, attrs = load_shard(path, task)
        except DistillDataError as error:
            if not skip_damaged:
                raise
            print(f"warning: skipping damaged shard: {error}", file=sys.stderr)
            continue
        if point_cloud is not None and (attrs["point_cloud"], attrs["sizes"]) != point_cloud:
            raise DistillDataError(f"{path}: its point-cloud config or field sizes differ from the shards before it")
        point_cloud = attrs["point_cloud"], attrs["sizes"]
        episodes += shard
    if not episodes:
        raise DistillDataError(f"{folder}: its shards hold no episodes")
    return episodes


def training_pairs(episodes: list[DistillEpisode], horizon: int = 2, prefix: int = 0) -> dict[str, np.ndarray]:
    """Observations of every step with `prefix + horizon - 1` steps after it in its episode, labelled with the
    teacher's next `horizon` actions after `prefix` committed ones (the prefix, for a student that reads one)."""
    length = prefix + horizon
    usable = [e for e in episodes if len(e) >= length]
    if not usable:
        raise DistillDataError(f"no episode has {length} or more steps")
    spans = np.concatenate([np.lib.stride_tricks.sliding_window_view(e.actions, length, axis=0) for e in usable])
    spans = spans.swapaxes(1, 2)  # (M, length, action_dim)
    pairs = {
        "points": np.concatenate([e.point_cloud[: len(e) - length + 1] for e in usable]),
        "proprio": np.concatenate([e.proprio[: len(e) - length + 1] for e in usable]),
        "states": np.concatenate([e.states[: len(e) - length + 1] for e in usable]),
        "actions": np.ascontiguousarray(spans[:, prefix:]),
    }
    if prefix:
        pairs["prefix"] = np.ascontiguousarray(spans[:, :prefix])
    return pairs

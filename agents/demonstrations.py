"""Demonstrations on disk: HDF5 in the full robomimic layout, validated on load against the task's format.

    /data                       attrs: total (steps over all demos), env_args (JSON, see below),
                                 env_name (task id), format_version (FORMAT_VERSION)
    /data/demo_<i>/actions      (T, A) float: the task's arm command in [-1, 1], then absolute finger joint
                                 targets (rad): its `abs_joint` action in physical units
    /data/demo_<i>/obs/<key>    (T, d) float: the fields of the task's `demo_format.obs`, before the action of step t
    /data/demo_<i>/next_obs/<key>  (T, d) float: the same fields after it: obs[t + 1], and at the last step
                                 the terminal observation (before the environment reset itself)
    /data/demo_<i>/rewards      (T,) float: the task's reward for step t
    /data/demo_<i>/dones        (T,) int 0/1: 1 where the episode ends after step t (always at the last step)
    /data/demo_<i>/states       (T, S) float: the task's privileged state (`env.privileged_state()`)
    /data/demo_<i>              attrs: num_samples (T), success (bool), grasp_type (one of the format's
                                 families), object
    /mask/train, /mask/valid    (K,) bytes: demo names (b"demo_<i>"); every demo in exactly one of them,
                                 a deterministic split (`write_demos`' valid_fraction, SPLIT_SEED)

`env_args` is what robomimic's `file_utils.get_env_metadata_from_dataset` returns: a JSON dict with
`env_name` (the task id), `type` (robomimic's EnvType: 2, GYM_TYPE, the gym-style family this task belongs
to; robomimic cannot build the environment itself) and `env_kwargs` (how the data was made: for generated
demonstrations the task's config, the scripted demonstrator's config and the seed). robomimic's
`SequenceDataset` reads these files as they are, with or without `filter_by_attribute="train"`/`"valid"`.

A task that has demonstrations gives its environment class a `demo_format` (`DemoFormat`: the sizes above)
and the methods `demo_observation()` and `privileged_state()`; `load_demos` finds the format through the
task registry. Files of older format versions are refused with a message to regenerate them with
tools/generate_demos.py: version 1 had no next_obs, rewards, dones or masks, version 2 no `object_geometry`
observation. Real teleoperation data converted to this layout (same keys, shapes and units) drops straight in.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import h5py
import numpy as np

FORMAT_VERSION = 3
# What each older format version lacks; such files are refused with a message to regenerate them.
OLD_FORMATS = {1: "no next_obs, rewards, dones or train/valid masks", 2: "no object_geometry observation"}
ROBOMIMIC_GYM_TYPE = 2  # robomimic.envs.env_base.EnvType.GYM_TYPE (ROBOSUITE_TYPE = 1, IG_MOMART_TYPE = 3)
SPLIT_SEED = 0  # the permutation behind /mask/train and /mask/valid
DEMO_NAME = re.compile(r"demo_(\d+)$")


@dataclass(frozen=True)
class DemoFormat:
    """What a task's demonstrations hold per step: observation fields and widths, action and state widths, and
    the grasp families an episode may belong to."""

    obs: dict[str, int]
    num_actions: int
    state_dim: int
    families: tuple[str, ...]


def demo_format(task: str) -> DemoFormat:
    """The demonstration format of a registered task; ValueError if it has none."""
    from isaac_tasks import env_class

    found = getattr(env_class(task), "demo_format", None)
    if found is None:
        raise ValueError(f"task '{task}' has no demonstration format")
    return found


class DemoFormatError(ValueError):
    """A demonstration file that does not follow the format; the message names the file and field."""


@dataclass(kw_only=True)
class Episode:
    """One demonstration of T steps; arrays are indexed by step."""

    obs: dict[str, np.ndarray]  # DemoFormat.obs, (T, d) each
    next_obs: dict[str, np.ndarray]  # the same after each step, (T, d) each
    states: np.ndarray  # (T, state_dim)
    actions: np.ndarray  # (T, num_actions)
    rewards: np.ndarray  # (T,) float
    dones: np.ndarray  # (T,) int 0/1, 1 at the last step
    success: bool
    grasp_type: str  # one of DemoFormat.families
    object: str

    def __len__(self) -> int:
        return len(self.actions)


def split(num_demos: int, valid_fraction: float) -> tuple[list[int], list[int]]:
    """(train, valid) demo indices, each sorted: a SPLIT_SEED permutation, round(valid_fraction x num_demos)
    of it for validation (at least one demo in each part when there are two or more and the fraction > 0)."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ValueError(f"valid_fraction is {valid_fraction}, expected a number in [0, 1)")
    num_valid = round(valid_fraction * num_demos)
    if valid_fraction > 0 and num_demos >= 2:
        num_valid = min(max(num_valid, 1), num_demos - 1)
    order = np.random.default_rng(SPLIT_SEED).permutation(num_demos)
    return sorted(order[num_valid:].tolist()), sorted(order[:num_valid].tolist())


def write_demos(
    path: str, task: str, episodes: list[Episode], env_args: dict | None = None, valid_fraction: float = 0.1
) -> None:
    """Write episodes to `path` atomically (temporary file, then rename). `env_args` (how the data was made)
    becomes env_kwargs of the file's robomimic env_args; `valid_fraction` of the demos go to /mask/valid."""
    train, valid = split(len(episodes), valid_fraction)
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        env_meta = {"env_name": task, "type": ROBOMIMIC_GYM_TYPE, "env_kwargs": env_args or {}}
        data.attrs.update(
            total=sum(len(e) for e in episodes),
            env_args=json.dumps(env_meta),
            env_name=task,
            format_version=FORMAT_VERSION,
        )
        for i, episode in enumerate(episodes):
            group = data.create_group(f"demo_{i}")
            group.attrs.update(
                num_samples=len(episode), success=episode.success, grasp_type=episode.grasp_type, object=episode.object
            )
            group.create_dataset("actions", data=episode.actions.astype(np.float32))
            for name, fields in (("obs", episode.obs), ("next_obs", episode.next_obs)):
                obs = group.create_group(name)
                for key, value in fields.items():
                    obs.create_dataset(key, data=value.astype(np.float32))
            group.create_dataset("rewards", data=episode.rewards.astype(np.float32))
            group.create_dataset("dones", data=episode.dones.astype(np.int64))
            group.create_dataset("states", data=episode.states.astype(np.float32))
        for name, indices in (("train", train), ("valid", valid)):
            f[f"mask/{name}"] = np.array([f"demo_{i}".encode() for i in indices], dtype="S")
    os.replace(tmp, path)


def read_array(
    path: str, group: h5py.Group, name: str, shape: tuple, length: int | None, error: type[ValueError] = DemoFormatError
) -> np.ndarray:
    """Dataset `name` of `group`, checked to be (length or any, *shape) and finite; raises `error` naming it."""
    where = f"{path}: {group.name}/{name}"
    if name not in group or not isinstance(group[name], h5py.Dataset):
        raise error(f"{where} is missing")
    value = group[name][()]
    if value.shape[1:] != shape or (length is not None and len(value) != length):
        expected = ", ".join(map(str, (length or "T", *shape)))
        raise error(f"{where} has shape {value.shape}, expected ({expected})")
    if value.dtype != bool and not np.isfinite(value).all():
        raise error(f"{where} contains NaN or infinite values")
    return value


def _read_obs(path: str, group: h5py.Group, name: str, length: int, fields: dict[str, int]) -> dict[str, np.ndarray]:
    if name not in group or not isinstance(group[name], h5py.Group):
        raise DemoFormatError(f"{path}: {group.name}/{name} is missing")
    return {key: read_array(path, group[name], key, (width,), length) for key, width in fields.items()}


def _read_masks(path: str, f: h5py.File, names: list[str]) -> None:
    """Check that /mask/train and /mask/valid name existing demos and together hold each exactly once."""
    demos, seen = set(names), {}
    for key in ("train", "valid"):
        where = f"/mask/{key}"
        if where not in f or not isinstance(f[where], h5py.Dataset):
            raise DemoFormatError(f"{path}: {where} is missing (every demo must be in /mask/train or /mask/valid)")
        mask = f[where][()]
        if mask.ndim != 1 or mask.dtype.kind not in "SO":
            raise DemoFormatError(f"{path}: {where} is not a list of demo names as bytes")
        for entry in mask:
            name = entry.decode() if isinstance(entry, bytes) else str(entry)
            if name not in demos:
                raise DemoFormatError(f"{path}: {where} names {name}, which is not a demo in /data")
            if name in seen:
                raise DemoFormatError(f"{path}: /data/{name} is in {seen[name]} and again in {where}")
            seen[name] = where
    for name in names:
        if name not in seen:
            raise DemoFormatError(f"{path}: /data/{name} is in neither /mask/train nor /mask/valid")


def _check_env_args(path: str, data: h5py.Group, task: str) -> None:
    try:
        env_meta = json.loads(data.attrs["env_args"])
    except (KeyError, TypeError, ValueError):
        raise DemoFormatError(f"{path}: /data attribute 'env_args' is missing or not JSON") from None
    if not isinstance(env_meta, dict) or not {"env_name", "type", "env_kwargs"} <= env_meta.keys():
        raise DemoFormatError(f"{path}: /data env_args lacks robomimic's env_name, type and env_kwargs")
    if env_meta["env_name"] != task:
        raise DemoFormatError(f"{path}: /data env_args env_name is '{env_meta['env_name']}', expected '{task}'")


def demo_task(path: str) -> str:
    """The task id a demonstration file names (/data env_name); DemoFormatError if there is none."""
    try:
        with h5py.File(path, "r") as f:
            task = f["data"].attrs.get("env_name") if "data" in f else None
    except OSError as error:
        raise DemoFormatError(f"{path}: not a readable HDF5 file ({error})") from None
    if not isinstance(task, str) or not task:
        raise DemoFormatError(f"{path}: /data env_name (the task id) is missing")
    from isaac_tasks import TASKS

    if task not in TASKS:
        raise DemoFormatError(f"{path}: /data env_name '{task}' is not a registered task")
    return task


def load_demos(path: str, task: str) -> list[Episode]:
    """Every episode of a demonstration file of `task`, checked field by field against the task's format;
    raises DemoFormatError."""
    spec = demo_format(task)
    if not os.path.isfile(path):
        raise DemoFormatError(f"{path}: no such demonstration file")
    try:
        f = h5py.File(path, "r")
    except OSError as error:
        raise DemoFormatError(f"{path}: not a readable HDF5 file ({error})") from None
    with f:
        if "data" not in f:
            raise DemoFormatError(f"{path}: /data is missing")
        data = f["data"]
        if data.attrs.get("env_name") != task:
            raise DemoFormatError(f"{path}: /data env_name is '{data.attrs.get('env_name')}', expected '{task}'")
        version = data.attrs.get("format_version")
        if version in OLD_FORMATS:
            raise DemoFormatError(
                f"{path}: format version {version} ({OLD_FORMATS[version]}); regenerate it with tools/generate_demos.py"
            )
        if version != FORMAT_VERSION:
            raise DemoFormatError(f"{path}: /data format_version is {version}, expected {FORMAT_VERSION}")
        _check_env_args(path, data, task)
        for key in data:
            if not DEMO_NAME.match(key):  # robomimic takes every key of /data for a demo_<i>
                raise DemoFormatError(f"{path}: /data/{key} is not a demo_<i> group")
        names = sorted(data, key=lambda k: int(DEMO_NAME.match(k).group(1)))
        if not names:
            raise DemoFormatError(f"{path}: /data holds no episodes (demo_<i> groups)")
        _read_masks(path, f, names)
        episodes = []
        for name in names:
            group = data[name]
            actions = read_array(path, group, "actions", (spec.num_actions,), None)
            length = len(actions)
            if length == 0:
                raise DemoFormatError(f"{path}: {group.name}/actions is empty")
            for attr in ("num_samples", "success", "grasp_type", "object"):
                if attr not in group.attrs:
                    raise DemoFormatError(f"{path}: {group.name} attribute '{attr}' is missing")
            if group.attrs["num_samples"] != length:
                raise DemoFormatError(
                    f"{path}: {group.name} num_samples is {group.attrs['num_samples']}, but actions has {length} steps"
                )
            obs = _read_obs(path, group, "obs", length, spec.obs)
            next_obs = _read_obs(path, group, "next_obs", length, spec.obs)
            rewards = read_array(path, group, "rewards", (), length)
            dones = read_array(path, group, "dones", (), length)
            if not np.isin(dones, (0, 1)).all() or dones[-1] != 1:
                raise DemoFormatError(f"{path}: {group.name}/dones must be 0 or 1, and 1 at the last step")
            states = read_array(path, group, "states", (spec.state_dim,), length)
            grasp_type = str(group.attrs["grasp_type"])
            if grasp_type not in spec.families:
                raise DemoFormatError(
                    f"{path}: {group.name} grasp_type is '{grasp_type}', expected one of {', '.join(spec.families)}"
                )
            episodes.append(
                Episode(
                    obs=obs,
                    next_obs=next_obs,
                    states=states,
                    actions=actions,
                    rewards=rewards.astype(np.float32),
                    dones=dones.astype(np.int64),
                    success=bool(group.attrs["success"]),
                    grasp_type=grasp_type,
                    object=str(group.attrs["object"]),
                )
            )
        total = data.attrs.get("total")
        if total != sum(len(e) for e in episodes):
            raise DemoFormatError(f"{path}: /data total is {total}, but its demos hold {sum(map(len, episodes))} steps")
    return episodes

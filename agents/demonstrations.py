"""Demonstrations on disk: HDF5 in the robomimic layout, validated on load.

    /data                       attrs: env_name (task id), format_version, total (steps), env_args (JSON)
    /data/demo_<i>/actions      (T, 22) float: arm delta pose in [-1, 1] (x the task's per-step limits:
                                 ±3 cm, ±0.1 rad), then 16 absolute finger joint targets (rad)
    /data/demo_<i>/states       (T, S) float: privileged state (see STATE_FIELDS)
    /data/demo_<i>/obs/<key>    (T, d) float: the fields of OBS_FIELDS
    /data/demo_<i>              attrs: num_samples (T), success (bool), grasp_type ("pinch" | "power"), object

Real teleoperation data converted to this layout (same keys, shapes and units) drops straight in.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import h5py
import numpy as np
import torch

FORMAT_VERSION = 1
NUM_ACTIONS = 22
OBS_FIELDS = {
    "joint_pos": 23,  # 7 arm + 16 finger joint positions (rad)
    "joint_vel": 23,
    "joint_targets": 23,  # the position targets sent to the servos this step (arm from IK)
    "palm_pos": 3,
    "palm_quat": 4,  # (w, x, y, z)
    "object_pos": 3,
    "object_quat": 4,
    "fingertip_contact": 4,  # index, middle, ring, thumb touching the object
}
STATE_FIELDS = ("joint_pos", "joint_vel", "object_pos", "object_quat", "object_lin_vel", "object_ang_vel")


def privileged_state(env) -> torch.Tensor:
    """(N, STATE_DIM) the privileged state of every environment of the grasping task, in STATE_FIELDS order."""
    s = env.physics.state
    return torch.cat(
        (s.joint_pos, s.joint_vel, s.body_pos[:, 0], s.body_quat[:, 0], s.body_lin_vel[:, 0], s.body_ang_vel[:, 0]), -1
    )


STATE_DIM = 23 + 23 + 3 + 4 + 3 + 3


class DemoFormatError(ValueError):
    """A demonstration file that does not follow the format; the message names the file and field."""


@dataclass
class Episode:
    obs: dict[str, np.ndarray]
    states: np.ndarray
    actions: np.ndarray
    success: bool
    grasp_type: str
    object: str

    def __len__(self) -> int:
        return len(self.actions)


def write_demos(path: str, task: str, episodes: list[Episode], env_args: dict | None = None) -> None:
    """Write episodes to `path` atomically (temporary file, then rename)."""
    tmp = f"{path}.tmp"
    with h5py.File(tmp, "w") as f:
        data = f.create_group("data")
        data.attrs.update(
            env_name=task,
            format_version=FORMAT_VERSION,
            total=sum(len(e) for e in episodes),
            env_args=json.dumps(env_args or {}),
        )
        for i, episode in enumerate(episodes):
            group = data.create_group(f"demo_{i}")
            group.attrs.update(
                num_samples=len(episode), success=episode.success, grasp_type=episode.grasp_type, object=episode.object
            )
            group.create_dataset("actions", data=episode.actions.astype(np.float32))
            group.create_dataset("states", data=episode.states.astype(np.float32))
            obs = group.create_group("obs")
            for key, value in episode.obs.items():
                obs.create_dataset(key, data=value.astype(np.float32))
    os.replace(tmp, path)


def read_array(
    path: str, group: h5py.Group, name: str, shape: tuple, length: int | None, error: type[ValueError] = DemoFormatError
) -> np.ndarray:
    """Dataset `name` of `group`, checked to be (length or any, *shape) and finite; raises `error` naming it."""
    where = f"{path}: {group.name}/{name}"
    if name not in group:
        raise error(f"{where} is missing")
    value = group[name][()]
    if value.shape[1:] != shape or (length is not None and len(value) != length):
        raise error(f"{where} has shape {value.shape}, expected ({length or 'T'}, {', '.join(map(str, shape))})")
    if value.dtype != bool and not np.isfinite(value).all():
        raise error(f"{where} contains NaN or infinite values")
    return value


def load_demos(path: str, task: str) -> list[Episode]:
    """Every episode of a demonstration file, checked field by field; raises DemoFormatError."""
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
        names = sorted((k for k in data if k.startswith("demo_")), key=lambda k: int(k.split("_")[1]))
        if not names:
            raise DemoFormatError(f"{path}: /data holds no episodes (demo_<i> groups)")
        episodes = []
        for name in names:
            group = data[name]
            actions = read_array(path, group, "actions", (NUM_ACTIONS,), None)
            if len(actions) == 0:
                raise DemoFormatError(f"{path}: {group.name}/actions is empty")
            if "obs" not in group:
                raise DemoFormatError(f"{path}: {group.name}/obs is missing")
            obs = {
                key: read_array(path, group["obs"], key, (width,), len(actions)) for key, width in OBS_FIELDS.items()
            }
            states = read_array(path, group, "states", (STATE_DIM,), len(actions))
            for attr in ("success", "grasp_type", "object"):
                if attr not in group.attrs:
                    raise DemoFormatError(f"{path}: {group.name} attribute '{attr}' is missing")
            grasp_type = str(group.attrs["grasp_type"])
            if grasp_type not in ("pinch", "power"):
                raise DemoFormatError(f"{path}: {group.name} grasp_type is '{grasp_type}', expected pinch or power")
            episodes.append(
                Episode(obs, states, actions, bool(group.attrs["success"]), grasp_type, str(group.attrs["object"]))
            )
    return episodes

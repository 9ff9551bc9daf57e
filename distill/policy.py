"""One entry for the evaluation tools: a checkpoint's policy, be it an rsl-rl teacher or a distilled student."""

from __future__ import annotations

import torch

from agents.ppo_runner import load_policy, read_checkpoint
from distill.point_cloud import PointCloudCfg
from distill.student import is_student_checkpoint, load_student, read_student_checkpoint
from distill.student_io import StudentPlayer, io_of


def read_policy_infos(path: str, task: str) -> dict:
    """The checkpoint's infos (task, action space, ...), checked to belong to `task`."""
    if is_student_checkpoint(path):
        return read_student_checkpoint(path, task)["infos"]
    return read_checkpoint(path, task=task)["infos"]


def load_any_policy(env, task: str, path: str, agent_cfg: dict):
    """(the rsl-rl runner, or None for a student; the policy: observations -> actions of `env`)."""
    if not is_student_checkpoint(path):
        return load_policy(env, task, path, agent_cfg)
    student, saved = load_student(path, task)
    cfg = saved["infos"].get("point_cloud") and PointCloudCfg.from_dict(saved["infos"]["point_cloud"])
    return None, StudentPlayer(io_of(env, cfg, torch.Generator().manual_seed(env.cfg.seed)), student)

"""One entry for the evaluation tools: a checkpoint's policy, be it an rsl-rl teacher, a distilled student or a
flow prior alone (its chunks executed with a0 ~ N(0, I), as tools/train_prior.py evaluates it)."""

from __future__ import annotations

import torch

from agents import prior_data
from agents.flow_matching import FlowPrior
from agents.ppo_runner import load_policy, read_checkpoint
from agents.prior_training import prior_as_policy
from distill.point_cloud import PointCloudCfg
from distill.student import is_student_checkpoint, load_student, read_student_checkpoint
from distill.student_io import StudentPlayer, io_of
from isaac_tasks import make_prior_io


def read_policy_infos(path: str, task: str) -> dict:
    """The checkpoint's infos (task, action space, ...), checked to belong to `task`."""
    if FlowPrior.is_checkpoint(path):
        model, metadata = FlowPrior.load(path)
        variant = metadata["variant"]
        prior_data.check_prior(path, model.config, metadata, task, make_prior_io(task), variant, "a prior alone")
        return {
            "task": task,
            "prior_variant": variant,
            "action_space": "abs_joint",
            "action_settings": ["action_space"],
        }
    if is_student_checkpoint(path):
        return read_student_checkpoint(path, task)["infos"]
    return read_checkpoint(path, task=task)["infos"]


def load_any_policy(env, task: str, path: str, agent_cfg: dict):
    """(the rsl-rl runner, or None for a student or prior; the policy: observations -> actions of `env`)."""
    if FlowPrior.is_checkpoint(path):
        model, metadata = FlowPrior.load(path, map_location=env.device)
        return None, prior_as_policy(model, metadata["variant"], env, task)
    if not is_student_checkpoint(path):
        return load_policy(env, task, path, agent_cfg)
    student, saved = load_student(path, task)
    cfg = saved["infos"].get("point_cloud") and PointCloudCfg.from_dict(saved["infos"]["point_cloud"])
    return None, StudentPlayer(io_of(env, cfg, torch.Generator().manual_seed(env.cfg.seed)), student)

"""The student: v(a_t, o_pc, s_pro, t) over a chunk of actions (SPEC 6; 003's cube student without o_pc).

A PointNet encoder (a shared per-point MLP and a max over points) turns the point cloud into one
feature vector; with the normalized proprioception it is the condition of the same flow-matching core
as the prior (`agents.flow_matching.FlowPrior`, whose own condition normalization stays the identity).
Which observations and actions a task's student has is `distill.student_io`'s: for the grasping tasks a point
cloud, the task's proprioception (`env.proprioception()`: no object state) and the commands of the task's
`hand_arm` prior (23 numbers with the LEAP hand: arm delta position (3), arm delta rotation as a quaternion
(4), 16 finger targets); for the cube tasks no point cloud, the task's `student_observation()` and the
teacher's own actions. Execution is chunked (`distill.chunking`); by default the first of two predicted
actions runs at every step (000's student).

Observation noise (003, B.5): additive Gaussian noise on every point and proprioception entry, plus a
random offset per episode (a translation of the whole cloud, a shift of every proprioception entry).

A point-cloud student with `state_dim` also learns to predict the task's privileged state (object pose and
velocities, joint states) from its point-cloud feature alone: an auxiliary loss that trains the encoder to find
the object, with labels the simulation gives for free. The head is not used when the student acts.
"""

from __future__ import annotations

import filecmp
import os
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn

from agents.flow_matching import MIN_STD, FlowPrior
from agents.ppo_runner import CheckpointError, build_saved, load_saved, save_atomically
from agents.prior_data import HORIZON
from distill.chunking import ChunkedExecutor

VARIANT = "hand_arm"  # the prior variant whose commands the student predicts


def student_sizes(env) -> dict[str, int]:
    """The proprioception and action sizes of a student of `env`'s task."""
    return {"proprio_dim": env.proprioception().shape[-1], "action_dim": env.prior_io.variants[VARIANT]["action_dim"]}


@dataclass(kw_only=True)
class ObservationNoiseCfg:
    point_std: float = 0.005  # m, per point
    point_offset_std: float = 0.005  # m, per episode, the whole cloud (a fraction of the smallest objects)
    proprio_std: float = 0.1  # x each entry's data std, per step
    proprio_offset_std: float = 0.1  # x each entry's data std, per episode


class PointNetEncoder(nn.Module):
    """Shared MLP on every point, then the maximum over points: (B, P, 3) -> (B, feature_dim)."""

    def __init__(self, hidden_dims: Sequence[int] = (64, 128), feature_dim: int = 256):
        super().__init__()
        layers: list[nn.Module] = []
        width = 3
        for hidden in (*hidden_dims, feature_dim):
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
            width = hidden
        self.point_mlp = nn.Sequential(*layers[:-1])  # no activation before the max

    def forward(self, points: torch.Tensor) -> torch.Tensor:
        return self.point_mlp(points).amax(dim=1)


class Student(nn.Module):
    def __init__(
        self,
        proprio_dim: int,
        action_dim: int,
        horizon: int = HORIZON,
        encoder_dims: Sequence[int] = (64, 128),
        feature_dim: int = 256,
        hidden_dims: Sequence[int] = (512, 512, 512),
        num_steps: int = 10,
        prefix: int = 0,
        execute: int = 1,
        ema_alpha: float = 1.0,
        point_cloud: bool = True,
        state_dim: int = 0,
    ):
        super().__init__()
        ChunkedExecutor.check(horizon, prefix, execute, ema_alpha)
        self.config = {
            "point_cloud": point_cloud,
            "proprio_dim": proprio_dim,
            "action_dim": action_dim,
            "horizon": horizon,
            "encoder_dims": list(encoder_dims),
            "feature_dim": feature_dim,
            "hidden_dims": list(hidden_dims),
            "num_steps": num_steps,
            "prefix": prefix,
            "execute": execute,
            "ema_alpha": ema_alpha,
            "state_dim": state_dim,
        }
        if state_dim and not point_cloud:
            raise ValueError("the privileged-state head reads the point-cloud feature; this student has none")
        self.prefix = prefix
        self.encoder = PointNetEncoder(encoder_dims, feature_dim) if point_cloud else None
        cond_dim = (feature_dim if point_cloud else 0) + proprio_dim + prefix * action_dim
        self.flow = FlowPrior(action_dim, cond_dim, horizon, hidden_dims, num_steps)
        self.state_head = None
        if state_dim:
            self.state_head = nn.Sequential(nn.Linear(feature_dim, 256), nn.SiLU(), nn.Linear(256, state_dim))
            self.register_buffer("state_mean", torch.zeros(state_dim))
            self.register_buffer("state_std", torch.ones(state_dim))
        self.register_buffer("point_center", torch.zeros(3))
        self.register_buffer("point_scale", torch.ones(()))
        self.register_buffer("proprio_mean", torch.zeros(proprio_dim))
        self.register_buffer("proprio_std", torch.ones(proprio_dim))

    @torch.no_grad()
    def fit_normalization(
        self, points: torch.Tensor | None, proprio: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> None:
        """From data: points (M, P, 3) (None for a student without a point cloud), proprio (M, proprio_dim),
        actions (M, horizon, action_dim), privileged states (M, state_dim) for a student with a state head."""
        if self.state_head is not None:
            self.state_mean.copy_(states.mean(0))
            self.state_std.copy_(states.std(0).clamp_min(MIN_STD))
        if self.encoder is not None:
            flat = points.reshape(-1, 3)
            self.point_center.copy_(flat.mean(0))
            self.point_scale.copy_((flat - flat.mean(0)).norm(dim=-1).mean().clamp_min(MIN_STD))
        self.proprio_mean.copy_(proprio.mean(0))
        self.proprio_std.copy_(proprio.std(0).clamp_min(MIN_STD))
        self.flow.action_mean.copy_(actions.mean(0))
        self.flow.action_std.copy_(actions.std(0).clamp_min(MIN_STD))

    def feature(self, points: torch.Tensor | None) -> torch.Tensor | None:
        """The point-cloud feature (B, feature_dim); None for a student without a point cloud."""
        return None if self.encoder is None else self.encoder((points - self.point_center) / self.point_scale)

    def condition(
        self, feature: torch.Tensor | None, proprio: torch.Tensor, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The flow's condition: the point-cloud `feature` (for a student that sees a point cloud), the normalized
        proprioception (the task's student observation) and, for a student that reads them, the `prefix`
        (B, prefix, action_dim) committed actions its chunk follows."""
        parts = [(proprio - self.proprio_mean) / self.proprio_std]
        if feature is not None:
            parts.insert(0, feature)
        if self.prefix:
            parts.append(((prefix - self.flow.action_mean[:1]) / self.flow.action_std[:1]).flatten(1))
        return torch.cat(parts, dim=-1)

    def losses(
        self, points, proprio, actions, prefix=None, states=None, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """The flow-matching loss and, for a student with a state head, the error of its normalized privileged
        state predicted from the point-cloud feature."""
        feature = self.feature(points)
        losses = {"flow": self.flow.loss(self.condition(feature, proprio, prefix), actions, generator)}
        if self.state_head is not None:
            target = (states - self.state_mean) / self.state_std
            losses["state"] = (self.state_head(feature) - target).square().mean()
        return losses

    def forward(
        self, points: torch.Tensor | None, proprio: torch.Tensor, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The chunk (B, horizon, action_dim) that follows the prefix, pushed from a0 = 0 (the flow's
        deterministic action)."""
        cond = self.condition(self.feature(points), proprio, prefix)
        a0 = torch.zeros(cond.shape[0], self.flow.horizon, self.flow.action_dim, dtype=cond.dtype, device=cond.device)
        return self.flow.push(cond, a0)

    @torch.no_grad()
    def act(
        self, points: torch.Tensor | None, proprio: torch.Tensor, prefix: torch.Tensor | None = None
    ) -> torch.Tensor:
        return self(points, proprio, prefix)

    def executor(self, num_envs: int, decide) -> ChunkedExecutor:
        """Real-time chunked execution of this student as it was trained to run (its prefix, actions executed per
        decision and EMA); `decide(env_ids, prefix)` calls `act` on those environments' observations."""
        c = self.config
        return ChunkedExecutor(
            decide, num_envs, c["action_dim"], c["horizon"], c["prefix"], c["execute"], c["ema_alpha"]
        )

    def perturb(
        self,
        points: torch.Tensor | None,
        proprio: torch.Tensor,
        noise: ObservationNoiseCfg,
        point_offset: torch.Tensor,
        proprio_offset: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Noisy observations: per-step Gaussian noise plus the given per-episode offsets (in noise units)."""
        if points is not None:
            points = points + noise.point_std * torch.randn(points.shape, generator=generator)
            points = points + noise.point_offset_std * point_offset.unsqueeze(1)
        shift = noise.proprio_std * torch.randn(proprio.shape, generator=generator)
        return points, proprio + (shift + noise.proprio_offset_std * proprio_offset) * self.proprio_std

    def save(self, path: str, extra: dict) -> None:
        save_atomically({"student": {"config": self.config, "state_dict": self.state_dict()}, **extra}, path)


def is_student_checkpoint(path: str) -> bool:
    """Whether `path` holds a student (written by tools/distill.py) rather than an rsl-rl policy."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # not ours; the policy loader reports what is wrong with it
        return False
    return isinstance(saved, dict) and "student" in saved


def read_student_checkpoint(path: str, task: str | None = None) -> dict:
    saved = load_saved(path, "student checkpoint", {"student", "infos"})
    info = saved["infos"]
    if task is not None and info.get("task") != task:
        raise CheckpointError(f"student {path} was distilled on task '{info.get('task')}', not '{task}'")
    if isinstance(info.get("teacher"), str):  # students before split teachers named one
        info["teacher"] = [info["teacher"]]
    folder = os.path.dirname(os.path.abspath(path))  # a shipped student names its teachers beside it
    info["teacher"] = [os.path.join(folder, teacher) for teacher in info.get("teacher", [])]
    return saved


def ship_student(path: str, out: str) -> str:
    """Copy the student checkpoint `path` to `out` without its optimizer state, naming each teacher relative to
    `out` where the same teacher file lies beside it (a shipped teacher); returns `out`."""
    saved = read_student_checkpoint(path)
    saved.pop("optimizer", None)

    def named(teacher: str) -> str:
        beside = os.path.join(os.path.dirname(os.path.abspath(out)), os.path.basename(teacher))
        shipped = os.path.isfile(teacher) and os.path.isfile(beside) and filecmp.cmp(teacher, beside, shallow=False)
        return os.path.basename(teacher) if shipped else teacher

    saved["infos"]["teacher"] = [named(teacher) for teacher in saved["infos"]["teacher"]]
    save_atomically(saved, out)
    return out


def load_student(path: str, task: str | None = None) -> tuple[Student, dict]:
    saved = read_student_checkpoint(path, task)
    return build_saved(Student, saved["student"], path, "student").eval(), saved


def command_to_arm_and_fingers(env, command: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A hand_arm command (N, action_dim) as the task's arm command in [-1, 1] and finger targets within the limits."""
    arm, fingers = env.prior_io.arm_and_fingers(VARIANT, command)
    low, high = env.finger_limits.unbind(-1)
    return arm, torch.clamp(fingers, low, high)


def hold_command(env, env_ids: torch.Tensor) -> torch.Tensor:
    """The hand_arm command (n, action_dim) that keeps the robot where it is: no arm motion (the arm command is
    a relative pose) and the fingers at their last targets."""
    fingers = env.finger_targets[env_ids]
    probe = torch.zeros(1, env.prior_io.variants[VARIANT]["action_dim"], device=fingers.device)
    arm_dim = env.prior_io.arm_and_fingers(VARIANT, probe)[0].shape[-1]
    return command_of(env, torch.zeros(len(env_ids), arm_dim, device=fingers.device), fingers)


def command_of(env, arm: torch.Tensor, fingers: torch.Tensor) -> torch.Tensor:
    """The hand_arm command (N, action_dim) of an arm command in [-1, 1] and finger targets (a teacher's step)."""
    return env.prior_io.prior_action(VARIANT, torch.cat((arm, fingers), dim=-1))


def train_student(
    student: Student,
    optimizer: torch.optim.Optimizer,
    data: dict[str, torch.Tensor],
    num_updates: int,
    batch_size: int,
    noise: ObservationNoiseCfg,
    generator: torch.Generator | None = None,
    max_grad_norm: float = 1.0,
    state_loss_weight: float = 1.0,
) -> dict[str, float]:
    """Behaviour cloning on `data` (points, proprio, actions, prefix for a student that reads one, privileged
    states for one with a state head) with observation noise; returns the mean of each loss.

    Every sample gets its own random offset: over shuffled batches that is the per-episode offset's law.
    """
    student.train()
    totals: dict[str, float] = {}
    size = len(data["actions"])
    for _ in range(num_updates):
        index = torch.randint(size, (batch_size,), generator=generator)
        offsets = (
            torch.randn(batch_size, 3, generator=generator),
            torch.randn(batch_size, student.config["proprio_dim"], generator=generator),
        )
        points = data["points"][index] if "points" in data else None
        points, proprio = student.perturb(points, data["proprio"][index], noise, *offsets, generator)
        prefix = data["prefix"][index] if "prefix" in data else None
        states = data["states"][index] if student.state_head is not None else None
        losses = student.losses(points, proprio, data["actions"][index], prefix, states, generator)
        optimizer.zero_grad()
        (losses["flow"] + state_loss_weight * losses.get("state", 0.0)).backward()
        nn.utils.clip_grad_norm_(student.parameters(), max_grad_norm)
        optimizer.step()
        for name, value in losses.items():
            totals[name] = totals.get(name, 0.0) + value.item()
    student.eval()
    return {name: total / num_updates for name, total in totals.items()} if num_updates else {"flow": 0.0}

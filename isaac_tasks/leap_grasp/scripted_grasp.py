"""A scripted, human-like and imperfect grasp: the stand-in for teleoperated demonstrations.

Per episode each environment draws its own timing, approach offset, yaw, aperture, closure and
per-joint variation of the synergy; the script then moves the palm above the object, descends, closes
the fingers with a synergy (all fingers for power objects, thumb and index for pinch objects) and
lifts. Like a human hand, it cannot close its fingers through each other: where the closing motion
would overlap fingers (in free air) by more than `max_finger_overlap`, the thumb's part of the synergy
is scaled down, and failing that the closure is cut back. It reads
privileged state and acts in the `abs_joint` action space; `command` gives the same action in the demonstration format (arm delta in
[-1, 1], absolute finger targets in rad).
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import torch

from isaac_tasks.evaluation.penetration import PenetrationMeter, leap_hand_links
from isaac_tasks.leap_grasp.scene import OBJECT_BODY, grasp_scene
from isaac_tasks.math import axis_angle_from_quat, quat_apply, quat_conjugate, quat_from_yaw, quat_mul

# Finger synergies (rad), LEAP joint order: index, middle, ring (abd, flex, pip, dip), thumb (cmc, axl, mcp, ip).
POWER_CLOSED = (0.0, 1.2, 1.0, 0.8, 0.0, 1.2, 1.0, 0.8, 0.0, 1.2, 1.0, 0.8, 1.3, 0.6, 0.5, 0.5)
THUMB = slice(12, 16)
PINCH_CLOSED = (0.0, 1.05, 0.9, 0.6, 0.0, 0.9, 0.8, 0.5, 0.0, 0.3, 0.3, 0.2, 1.5, 0.4, 0.6, 0.6)
# Object centre in the palm frame (x along the fingers, z out of the palm) when the hand closes.
POWER_GRASP_POINT = (0.01, 0.0, 0.055)
PINCH_GRASP_POINT = (0.04, -0.02, 0.07)
PALM_DOWN = (0.0, 1.0, 0.0, 0.0)  # palm facing -z, fingers along +x


@dataclass(kw_only=True)
class ScriptedGraspCfg:
    approach_steps: tuple[int, int] = (25, 40)
    descend_steps: tuple[int, int] = (15, 25)
    close_steps: tuple[int, int] = (8, 16)
    pregrasp_height: tuple[float, float] = (0.06, 0.1)  # m above the grasp pose
    offset_noise: float = 0.015  # m, uniform on each axis of the grasp point
    yaw_noise: float = 0.3  # rad, approach direction about the vertical
    aperture: tuple[float, float] = (0.0, 0.3)  # pre-shape, as a fraction of the closed synergy
    closure: tuple[float, float] = (0.8, 1.15)  # final closure, fraction of the synergy
    synergy_noise: float = 0.15  # rad, uniform per joint and episode: no two hands close alike
    max_finger_overlap: float = 0.004  # m, finger-finger penetration allowed along the closing motion
    lift_height: float = 0.3  # m


class ScriptedGrasp:
    def __init__(self, env, cfg: ScriptedGraspCfg, generator: torch.Generator):
        self.env, self.cfg, self.generator = env, cfg, generator
        n, device = env.num_envs, env.device
        self.power = env.object_is_power
        closed = torch.where(self.power.unsqueeze(-1), torch.tensor(POWER_CLOSED), torch.tensor(PINCH_CLOSED))
        self.synergy = closed.to(device)
        self.closed = self.synergy.clone()
        point = torch.where(self.power.unsqueeze(-1), torch.tensor(POWER_GRASP_POINT), torch.tensor(PINCH_GRASP_POINT))
        self.grasp_point = point.to(device)
        self.phase_end = torch.zeros(n, 3, dtype=torch.long, device=device)  # approach, descend, close
        self.offset = torch.zeros(n, 3, device=device)
        self.target_quat = torch.zeros(n, 4, device=device)
        self.pregrasp = torch.zeros(n, device=device)
        self.aperture = torch.zeros(n, device=device)
        self.closure = torch.zeros(n, device=device)
        self.meter = PenetrationMeter(grasp_scene(env.objects[0]), leap_hand_links(), OBJECT_BODY)
        model = self.meter.model
        fingers = env.physics.queries.joints[-len(POWER_CLOSED) :]
        self.finger_adr = model.jnt_qposadr[[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in fingers]]

    def _uniform(self, low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=self.generator, device=self.env.device)

    def reset(self, env_ids: torch.Tensor) -> None:
        cfg, n = self.cfg, len(env_ids)
        durations = [
            torch.randint(lo, hi + 1, (n,), generator=self.generator)
            for lo, hi in (cfg.approach_steps, cfg.descend_steps, cfg.close_steps)
        ]
        self.phase_end[env_ids] = torch.stack(durations, dim=-1).cumsum(dim=-1).to(self.env.device)
        self.offset[env_ids] = self._uniform(-cfg.offset_noise, cfg.offset_noise, n, 3)
        yaw = quat_from_yaw(self._uniform(-cfg.yaw_noise, cfg.yaw_noise, n))
        self.target_quat[env_ids] = quat_mul(yaw, torch.tensor(PALM_DOWN, device=self.env.device).expand(n, 4))
        self.pregrasp[env_ids] = self._uniform(*cfg.pregrasp_height, n)
        self.aperture[env_ids] = self._uniform(*cfg.aperture, n)
        self.closure[env_ids] = self._uniform(*cfg.closure, n)
        noise = self._uniform(-cfg.synergy_noise, cfg.synergy_noise, n, self.synergy.shape[1])
        self.closed[env_ids], self.closure[env_ids] = self._stop_at_finger_contact(
            self.synergy[env_ids] + noise, self.closure[env_ids]
        )

    def _apart_along_closing(self, closed: torch.Tensor, closure: torch.Tensor, steps: int = 12) -> np.ndarray:
        """(...,) whether the fingers stay apart (free air) at every pose from open to `closure` x `closed` (..., 16)."""
        amount = closure[..., None] * torch.linspace(1.0, 0.0, steps)
        low, high = self.env.finger_limits.cpu().unbind(-1)
        poses = torch.clamp(amount[..., None] * closed[..., None, :], low, high)
        qpos = np.tile(self.meter.model.qpos0, (poses[..., 0].numel(), 1))
        qpos[:, self.finger_adr] = poses.reshape(-1, poses.shape[-1]).numpy()
        depth = self.meter.measure(qpos).hand_hand.reshape(poses.shape[:-1])
        return (depth <= self.cfg.max_finger_overlap).all(axis=-1)

    def _stop_at_finger_contact(self, closed: torch.Tensor, closure: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The synergy with the thumb's part scaled down, then the closure cut back, as far as needed for the
        fingers to stay apart while closing: the thumb stops at the index, the other fingers still wrap."""
        device, closed, closure = closed.device, closed.cpu(), closure.cpu()
        thumb = torch.zeros(closed.shape[-1], dtype=torch.bool)
        thumb[THUMB] = True
        scales = torch.linspace(1.0, 0.0, 11)
        candidates = torch.where(thumb, closed[:, None] * scales[:, None], closed[:, None])  # (n, scales, 16)
        apart = self._apart_along_closing(candidates, closure[:, None].expand(-1, len(scales)))
        pick = torch.from_numpy(np.where(apart.any(axis=1), apart.argmax(axis=1), len(scales) - 1))
        closed = candidates[torch.arange(len(closed)), pick]
        fractions = torch.linspace(1.0, 0.0, 12)
        apart = self._apart_along_closing(closed[:, None].expand(-1, len(fractions), -1), closure[:, None] * fractions)
        cut = torch.from_numpy(np.where(apart.any(axis=1), apart.argmax(axis=1), len(fractions) - 1))
        return closed.to(device), (closure * fractions[cut]).to(device)

    def command(self) -> torch.Tensor:
        """(N, 22): arm delta pose in [-1, 1] and absolute finger targets for the current state."""
        env, s = self.env, self.env.physics.state
        step = env.episode_length_buf.unsqueeze(-1)
        approach, descend, close = self.phase_end.unbind(-1)
        t = env.episode_length_buf
        # palm target: the grasp pose over the object, raised while approaching; once closed, the grasp
        # pose over the object's start position raised by the lift height
        lifting = (t >= close).unsqueeze(-1)
        object_pos = torch.where(lifting, env.object_start_pos, s.body_pos[:, 0])
        palm_target = object_pos - quat_apply(self.target_quat, self.grasp_point + self.offset)
        descend_frac = ((t - approach).float() / (descend - approach).float()).clamp(0.0, 1.0)
        raise_z = torch.where(
            lifting.squeeze(-1),
            torch.full_like(self.pregrasp, self.cfg.lift_height),
            self.pregrasp * (1.0 - descend_frac),
        )
        palm_target[:, 2] += raise_z
        position = (palm_target - s.site_pos[:, 0]) / env.cfg.arm_translation_limit
        rotation_error = axis_angle_from_quat(quat_mul(self.target_quat, quat_conjugate(s.site_quat[:, 0])))
        rotation = rotation_error / env.cfg.arm_rotation_limit
        # fingers: pre-shape, then close with the synergy
        close_frac = ((step - descend.unsqueeze(-1)).float() / (close - descend).unsqueeze(-1).float()).clamp(0.0, 1.0)
        amount = self.aperture.unsqueeze(-1) + (self.closure - self.aperture).unsqueeze(-1) * close_frac
        low, high = env.finger_limits.unbind(-1)
        fingers = torch.clamp(amount * self.closed, low, high)
        return torch.cat((position.clamp(-1.0, 1.0), rotation.clamp(-1.0, 1.0), fingers), dim=-1)

    def actions(self, command: torch.Tensor) -> torch.Tensor:
        """The command in the `abs_joint` action space."""
        low, high = self.env.finger_limits.unbind(-1)
        fingers = 2.0 * (command[:, 6:] - low) / (high - low) - 1.0
        return torch.cat((command[:, :6], fingers), dim=-1)

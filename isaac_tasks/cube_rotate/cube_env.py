"""The cube-rotation task: a hand, palm down, spins a cube about the vertical axis.

The hand is data (assets/hands.py): each task id subclasses `CubeRotateEnv` with its `hand` and its config
with the cube for that hand (isaac_tasks/orca_cube/, isaac_tasks/leap_cube/).

A kinematic platform holds the cube for the first seconds and then drops away; the commanded spin rate
is resampled every 8 to 12 s. Actions are joint targets scaled to the joint limits and smoothed by an
EMA. Teacher observations are privileged and noise-free.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from tensordict import TensorDict

from assets.hands import Hand
from isaac_tasks.base_env import BaseEnv
from isaac_tasks.math import quat_from_yaw
from isaac_tasks.cube_rotate import metrics, rewards
from isaac_tasks.cube_rotate.cube_env_cfg import CubeRotateEnvCfg
from isaac_tasks.cube_rotate.scene import (
    CUBE_BODY,
    PLATFORM_BODY,
    VIDEO_CAMERAS,
    cube_scene,
    cube_start_height,
    platform_support_pos,
)
from isaac_tasks.physics import make_backend
from isaac_tasks.physics.interface import SceneQueries

GRAVITY = -9.81
STUDENT_HISTORY = 4  # control steps of joint positions and cube pose a student sees (003, B.5)


def next_gravity_levels(level: torch.Tensor, played: torch.Tensor, dropped: torch.Tensor, levels: int) -> torch.Tensor:
    """The gravity curriculum's levels after episodes end: one up for an episode that kept the cube after the
    platform left, one down for a drop, unchanged for one that ended before the platform left."""
    step = torch.where(dropped, -1, 1) * played
    return (level + step).clamp(0, levels)


class CubeRotateEnv(BaseEnv):
    """A task id's subclass sets `hand`."""

    cfg: CubeRotateEnvCfg
    hand: Hand
    video_cameras = VIDEO_CAMERAS
    primary_metric = "rotation_turns"
    action_keys = ("action_ema_alpha",)

    def __init__(self, cfg: CubeRotateEnvCfg):
        cfg.validate()
        hand = self.hand
        queries = SceneQueries(
            joints=hand.joint_names,
            bodies=(CUBE_BODY,),
            sites=hand.fingertip_sites,
            free_bodies=(CUBE_BODY,),
            kinematic_bodies=(PLATFORM_BODY,),
        )
        scene = cube_scene(hand, cfg.cube_size, cfg.cube_mass, cfg.cube_xy, cfg.sim_dt)
        physics = make_backend(
            cfg.backend, [scene], np.zeros(cfg.num_envs, dtype=np.int64), queries, cfg.num_threads, cfg.device
        )
        super().__init__(cfg, physics)

        n, j, device = self.num_envs, hand.num_joints, self.device
        self.num_actions = j
        self.joint_limits = physics.joint_limits.to(device)
        self.cube_origin = torch.tensor([*cfg.cube_xy, cube_start_height(cfg.cube_size)], device=device)
        self.platform_up = torch.tensor(platform_support_pos(cfg.cube_size, cfg.cube_xy), device=device)
        self.platform_quat = torch.tensor([1.0, 0.0, 0.0, 0.0], device=device).expand(n, 4)  # never turns
        self.support_steps = round(cfg.platform_support_s / self.step_dt)

        self.actions = torch.zeros(n, j, device=device)
        self.previous_actions = torch.zeros(n, j, device=device)
        self.joint_targets = torch.zeros(n, j, device=device)
        self.previous_joint_vel = torch.zeros(n, j, device=device)
        self.command = torch.zeros(n, device=device)
        self.command_timer = torch.zeros(n, dtype=torch.long, device=device)
        self.previous_cube_quat = torch.zeros(n, 4, device=device)
        self.previous_cube_ang_vel = torch.zeros(n, 3, device=device)
        self.rotation = torch.zeros(n, device=device)  # rad turned in the commanded sense after release
        self.released_time = torch.zeros(n, device=device)  # s since the platform left
        self.dropped = torch.zeros(n, dtype=torch.bool, device=device)
        curriculum = cfg.curriculum
        self.gravity_level = torch.full(
            (n,), curriculum.start_level if curriculum.enabled else curriculum.levels, device=device
        )
        self.history = torch.zeros(n, STUDENT_HISTORY, j + 7, device=device)  # joints, cube position, quaternion
        self.disturbance_nominal = torch.full((j,), cfg.joint_disturbance_torque, device=device)
        self._randomize_links()
        self.reset()

    # --- randomization ------------------------------------------------------------------------
    def _uniform(self, low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=self.generator, device=self.device)

    def _log_uniform(self, low: float, high: float, *shape: int) -> torch.Tensor:
        return torch.exp(self._uniform(math.log(low), math.log(high), *shape))

    def _randomize_links(self) -> None:
        """Startup: link friction and mass scales, per environment and link."""
        r, n = self.cfg.randomization, self.num_envs
        everyone = torch.arange(n, device=self.device)
        for body in self.hand.link_bodies:
            self.physics.set_friction(
                everyone, body, self.hand.link_friction * self._uniform(*r.link_friction_scale, n)
            )
            self.physics.scale_mass(everyone, body, self._uniform(*r.link_mass_scale, n))

    def _randomize_reset(self, env_ids: torch.Tensor) -> None:
        r, n, j = self.cfg.randomization, len(env_ids), self.num_actions
        self.physics.scale_joint_gains(
            env_ids, self._log_uniform(*r.stiffness_scale, n, j), self._log_uniform(*r.damping_scale, n, j)
        )
        noise = self._uniform(-r.joint_limit_noise, r.joint_limit_noise, n, j, 2)
        self.physics.set_joint_limits(env_ids, self.joint_limits + noise)
        self.physics.set_friction(env_ids, CUBE_BODY, self._uniform(*r.cube_friction, n))
        self.physics.scale_mass(env_ids, CUBE_BODY, self._uniform(*r.cube_mass_scale, n))
        gravity = torch.zeros(n, 3, device=self.device)
        gravity[:, 2] = GRAVITY + r.gravity_noise_std * torch.randn(n, generator=self.generator, device=self.device)
        gravity[:, 2] *= self.gravity_level[env_ids] / self.cfg.curriculum.levels
        self.physics.set_gravity(env_ids, gravity)

    # --- action -------------------------------------------------------------------------------
    def _apply_action(self, actions: torch.Tensor) -> None:
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(
                f"expected actions of shape {(self.num_envs, self.num_actions)}, got {tuple(actions.shape)}"
            )
        alpha = self.cfg.action_ema_alpha
        s = self.physics.state  # the state this control step starts from
        self.previous_cube_quat.copy_(s.body_quat[:, 0])
        self.previous_cube_ang_vel.copy_(s.body_ang_vel[:, 0])
        self.previous_joint_vel.copy_(s.joint_vel)
        self.previous_actions.copy_(self.actions)
        self.actions.copy_(actions.clamp(-1.0, 1.0))
        low, high = self.joint_limits.unbind(-1)
        scaled = low + 0.5 * (self.actions + 1.0) * (high - low)
        self.joint_targets.copy_(alpha * scaled + (1.0 - alpha) * self.joint_targets)
        self.physics.set_joint_position_target(self.joint_targets)
        self.physics.set_joint_effort(self._disturbance_torques(self.disturbance_nominal))
        self.physics.set_kinematic_pose(PLATFORM_BODY, self._platform_pos(), self.platform_quat)
        self._update_command()

    def _platform_pos(self) -> torch.Tensor:
        """Held at the cube for the support phase, then moving straight down out of the way."""
        cfg = self.cfg
        after = (self.episode_length_buf - self.support_steps).clamp_min(0).float() * self.step_dt
        drop = (cfg.platform_retract_speed * after).clamp(max=cfg.platform_retract_distance)
        pos = self.platform_up.expand(self.num_envs, 3).clone()
        pos[:, 2] -= drop
        return pos

    def _update_command(self) -> None:
        self.command_timer -= 1
        expired = (self.command_timer <= 0).nonzero().squeeze(-1)
        if len(expired) > 0:
            self._sample_command(expired)

    def _sample_command(self, env_ids: torch.Tensor) -> None:
        n = len(env_ids)
        magnitude = self._uniform(*self.cfg.command_magnitude, n)
        sign = torch.where(torch.rand(n, generator=self.generator, device=self.device) < 0.5, -1.0, 1.0)
        self.command[env_ids] = sign * magnitude
        hold = self._uniform(*self.cfg.command_hold_s, n)
        self.command_timer[env_ids] = torch.round(hold / self.step_dt).long()

    # --- rewards, dones, metrics --------------------------------------------------------------
    def _update_state(self) -> None:
        s = self.physics.state
        cube_pos, cube_quat = s.body_pos[:, 0], s.body_quat[:, 0]
        released = self.episode_length_buf > self.support_steps
        turned = metrics.yaw_increment(self.previous_cube_quat, cube_quat) * torch.sign(self.command)
        self.rotation += torch.where(released, turned, torch.zeros_like(turned))
        self.released_time += released.float() * self.step_dt
        self.dropped.copy_(cube_pos[:, 2] < self.cube_origin[2] - self.cfg.drop_height)
        self.history = torch.cat((self.history[:, 1:], self._history_frame().unsqueeze(1)), dim=1)

    def _reward_terms(self) -> dict[str, torch.Tensor]:
        s = self.physics.state
        cube_pos, ang_vel = s.body_pos[:, 0], s.body_ang_vel[:, 0]
        joint_acc = (s.joint_vel - self.previous_joint_vel) / self.step_dt
        terms = {
            "object_position_tracking": rewards.object_position_tracking(cube_pos, self.cube_origin),
            "rotation_magnitude_tracking": rewards.rotation_magnitude_tracking(ang_vel, self.command),
            "rotation_direction_alignment": rewards.rotation_direction_alignment(ang_vel, self.command),
            "angular_acceleration": rewards.angular_acceleration(ang_vel, self.previous_cube_ang_vel),
            "reaching_object": rewards.reaching_object(s.site_pos, cube_pos),
            "pose_closure": rewards.pose_closure(s.site_pos, cube_pos),
            "joint_velocity_l2": rewards.l2(s.joint_vel),
            "action_l2": rewards.l2(self.actions),
            "action_rate_l2": rewards.l2(self.actions - self.previous_actions),
            "joint_acceleration_l2": rewards.l2(joint_acc),
        }
        if self.cfg.rewards.drop:
            terms["drop"] = self.dropped.float()
        return terms

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dropped.clone(), self.episode_length_buf >= self.max_episode_length

    def _episode_log(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        # Rotation counts only once the platform has left (it is 0 before), so RPM is 0 there too.
        rotation_turns = metrics.turns(self.rotation[env_ids])
        log = {
            "Metrics/rpm": metrics.rotations_per_minute(rotation_turns, self.released_time[env_ids]),
            "Metrics/rotation_turns": rotation_turns,
            "Metrics/drop_rate": self.dropped[env_ids].float(),
        }
        if self.cfg.curriculum.enabled:  # the gravity these episodes were played at
            log["Curriculum/gravity_scale"] = self.gravity_level[env_ids] / self.cfg.curriculum.levels
        return log

    def training_state(self) -> dict[str, float]:
        return {"gravity_level": float(self.gravity_level.float().mean())} if self.cfg.curriculum.enabled else {}

    def load_training_state(self, state: dict[str, float]) -> None:
        """Every environment continues from the saved mean level, from its next episode on."""
        if self.cfg.curriculum.enabled and "gravity_level" in state:
            self.gravity_level.fill_(round(state["gravity_level"]))

    # --- reset --------------------------------------------------------------------------------
    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        r, n = self.cfg.randomization, len(env_ids)
        if self.cfg.curriculum.enabled:
            self.gravity_level[env_ids] = next_gravity_levels(
                self.gravity_level[env_ids],
                self.released_time[env_ids] > 0,
                self.dropped[env_ids],
                self.cfg.curriculum.levels,
            )
        self._randomize_reset(env_ids)
        joint_pos = torch.zeros(n, self.num_actions, device=self.device).clamp(*self.joint_limits.unbind(-1))
        cube_pos = self.cube_origin.expand(n, 3).clone()  # resting on the platform; shifted in the plane
        cube_pos[:, :2] += self._uniform(-r.cube_position_noise, r.cube_position_noise, n, 2)
        cube_quat = quat_from_yaw(self._uniform(-math.pi, math.pi, n))
        lin_vel = self._uniform(-r.cube_velocity_noise, r.cube_velocity_noise, n, 3)
        ang_vel = self._uniform(-r.cube_angular_velocity_noise, r.cube_angular_velocity_noise, n, 3)
        self.physics.set_kinematic_pose(PLATFORM_BODY, self._platform_pos(), self.platform_quat)
        self.physics.reset_envs(
            env_ids,
            joint_pos,
            torch.zeros_like(joint_pos),
            {CUBE_BODY: (cube_pos, cube_quat)},
            {CUBE_BODY: (lin_vel, ang_vel)},
        )
        self.joint_targets[env_ids] = joint_pos
        self.actions[env_ids] = 0.0
        self.rotation[env_ids] = 0.0
        self.released_time[env_ids] = 0.0
        self.dropped[env_ids] = False
        self.disturbance_timer[env_ids] = self._disturbance_interval(n)
        self._sample_command(env_ids)
        self.history[env_ids] = self._history_frame()[env_ids].unsqueeze(1)

    # --- the student's interface (003, B.5) -------------------------------------------------
    def _history_frame(self) -> torch.Tensor:
        s = self.physics.state
        low, high = self.joint_limits.unbind(-1)
        return torch.cat(
            (2.0 * (s.joint_pos - low) / (high - low) - 1.0, s.body_pos[:, 0] - self.cube_origin, s.body_quat[:, 0]),
            dim=-1,
        )

    def student_observation(self) -> torch.Tensor:
        """What SOFT-FLOW's cube student reads (003, B.5): the last `STUDENT_HISTORY` steps of normalized joint
        positions, cube position and orientation (a pose estimate on the robot), the previous action, the
        previous joint-position command and the commanded spin. No velocities, no platform countdown."""
        low, high = self.joint_limits.unbind(-1)
        targets = 2.0 * (self.joint_targets - low) / (high - low) - 1.0
        return torch.cat((self.history.flatten(1), self.actions, targets, self.command.unsqueeze(-1)), dim=-1)

    def hold_action(self, env_ids: torch.Tensor) -> torch.Tensor:
        """The action (n, J) that keeps the joint targets where they are (the EMA of it stays put)."""
        low, high = self.joint_limits.unbind(-1)
        return 2.0 * (self.joint_targets[env_ids] - low) / (high - low) - 1.0

    # --- observations -------------------------------------------------------------------------
    def _get_observations(self) -> TensorDict:
        s = self.physics.state
        low, high = self.joint_limits.unbind(-1)
        countdown = (self.support_steps - self.episode_length_buf).clamp_min(0).float() / max(self.support_steps, 1)
        policy = torch.cat(
            (
                2.0 * (s.joint_pos - low) / (high - low) - 1.0,
                0.1 * s.joint_vel,
                s.body_pos[:, 0] - self.cube_origin,
                s.body_quat[:, 0],
                s.body_lin_vel[:, 0],
                s.body_ang_vel[:, 0],
                self.command.unsqueeze(-1),
                self.actions,
                2.0 * (self.joint_targets - low) / (high - low) - 1.0,
                countdown.unsqueeze(-1),
            ),
            dim=-1,
        )
        return TensorDict({"policy": policy}, batch_size=[self.num_envs], device=self.device)

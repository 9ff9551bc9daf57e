"""The grasping task: a Franka arm with a hand grasps an object from a table and lifts it.

The hand is data (assets/hands.py): each task id subclasses `GraspEnv` with its `hand` (isaac_tasks/leap_grasp/,
isaac_tasks/orca_grasp/); everything below reads the hand's fields.

Arm: 6D delta pose of the palm per step through damped-least-squares differential IK onto the arm's
position servos. Fingers: joint targets from the chosen action space. Privileged observations; an
asymmetric critic sees velocities, fingertip geometry, contact forces and the object's physical
properties as well.
"""

from __future__ import annotations

import numpy as np
import torch
from tensordict import TensorDict

from agents.demonstrations import DemoFormat
from assets.franka import ARM_JOINT_NAMES
from assets.hands import Hand
from assets.objects import GEOMETRY_DIM, GRASP_TYPES, SHAPES, object_set
from isaac_tasks.action_spaces import action_space_class
from isaac_tasks.base_env import BaseEnv
from isaac_tasks.finger_guard import FingerTargetGuard
from isaac_tasks.grasp import rewards
from isaac_tasks.grasp.action_spaces import ACTION_SPACES
from isaac_tasks.grasp.grasp_env_cfg import GraspEnvCfg
from isaac_tasks.grasp.penetration import grasp_penetration
from isaac_tasks.grasp.prior import GraspPriorIO
from isaac_tasks.grasp.scene import OBJECT_BODY, VIDEO_CAMERAS, grasp_scene
from isaac_tasks.math import quat_from_yaw
from isaac_tasks.physics import make_backend
from isaac_tasks.physics.interface import SceneQueries
from isaac_tasks.self_overlap import INFEASIBLE_OVERLAP, SelfOverlap

NUM_ARM_JOINTS = len(ARM_JOINT_NAMES)


def grasp_demo_format(hand: Hand) -> DemoFormat:
    """What demonstrations of grasping with `hand` hold per step (sizes for the LEAP hand's 16 joints)."""
    joints, tips = NUM_ARM_JOINTS + hand.num_joints, len(hand.fingertip_sites)
    return DemoFormat(
        obs={
            "joint_pos": joints,  # 7 arm + 16 finger joint positions (rad)
            "joint_vel": joints,
            "joint_targets": joints,  # the position targets sent to the servos this step (arm from IK)
            "palm_pos": 3,
            "palm_quat": 4,  # (w, x, y, z)
            "object_pos": 3,
            "object_quat": 4,
            "fingertip_contact": tips,  # each fingertip (the hand's order) touching the object
            "object_geometry": GEOMETRY_DIM,  # `object_geometry`, constant over an episode
        },
        num_actions=6 + hand.num_joints,  # arm delta pose in [-1, 1] (x the per-step limits), finger targets (rad)
        state_dim=2 * joints + 3 + 4 + 3 + 3,  # `privileged_state`
        families=GRASP_TYPES,
    )


class GraspEnv(BaseEnv):
    """A task id's subclass sets `hand`; the hand's sizes follow from it."""

    cfg: GraspEnvCfg
    hand: Hand
    video_cameras = VIDEO_CAMERAS
    primary_metric = "success_rate"
    action_spaces = ACTION_SPACES
    comparison_split = ("grasp_type", GRASP_TYPES)  # Table 1: a policy per grasp family
    num_arm_actions = 6  # delta end-effector pose: translation, axis-angle rotation, in units of the step limits
    action_keys = ("action_space", "arm_translation_limit", "arm_rotation_limit", "finger_guard")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.num_finger_joints = cls.hand.num_joints
        cls.demo_format = grasp_demo_format(cls.hand)

    def __init__(self, cfg: GraspEnvCfg):
        cfg.validate()
        hand = self.hand
        space_class = action_space_class(ACTION_SPACES, cfg.action_space)
        self.objects = object_set(cfg.object_seed, cfg.grasp_type)
        self.episode_splits = {"family": GRASP_TYPES, "object": tuple(o.name for o in self.objects)}
        variant_of_env = np.arange(cfg.num_envs) % len(self.objects)
        scenes = [grasp_scene(hand, obj, cfg.sim_dt) for obj in self.objects]
        self.overlap = None  # finger links through each other, read only where rewarded
        if cfg.rewards.finger_overlap or cfg.rewards.infeasible:
            self.overlap = SelfOverlap(scenes[0].compile(), hand.link_groups, cfg.device, exclude=hand.overlap_exclude)
        self.num_fingertips = len(hand.fingertip_sites)
        queries = SceneQueries(
            joints=ARM_JOINT_NAMES + hand.joint_names,
            bodies=(OBJECT_BODY, *(self.overlap.bodies if self.overlap else ())),
            sites=(hand.palm_site, *hand.fingertip_sites),
            contact_pairs=(*((tip, OBJECT_BODY) for tip in hand.fingertip_bodies), (hand.palm_body, OBJECT_BODY)),
            free_bodies=(OBJECT_BODY,),
        )
        physics = make_backend(cfg.backend, scenes, variant_of_env, queries, cfg.num_threads, cfg.device)
        super().__init__(cfg, physics)

        n, device = self.num_envs, self.device
        self._opposing_tips = torch.arange(self.num_fingertips, device=device) != hand.thumb  # all but the thumb
        index = torch.as_tensor(variant_of_env, device=device)
        self.object_index = index
        self.object_rest_height = torch.tensor([o.rest_height for o in self.objects], device=device)[index]
        self.object_is_power = torch.tensor([o.grasp_type == "power" for o in self.objects], device=device)[index]
        properties = [[o.mass, *o.size, SHAPES.index(o.shape)] for o in self.objects]
        self.object_properties = torch.tensor(properties, dtype=torch.float32, device=device)[index]

        limits = physics.joint_limits.to(device)
        self.arm_limits, self.finger_limits = limits[:NUM_ARM_JOINTS], limits[NUM_ARM_JOINTS:]
        self._ik_regularizer = cfg.ik_damping**2 * torch.eye(6, device=device)  # damped least squares
        self._arm_home = torch.tensor(cfg.arm_home_pose, device=device)
        self.prior_io = GraspPriorIO(cfg, hand.num_joints)  # what flow priors see and predict in this task
        self.action_space = space_class(self)
        self.num_actions = self.action_space.num_actions
        self.finger_guard = None
        if cfg.finger_guard:
            self.finger_guard = FingerTargetGuard(scenes[0].compile(), hand, cfg.finger_guard, device)

        self.actions = torch.zeros(n, self.num_actions, device=device)
        self.finger_targets = torch.zeros(n, len(self.finger_limits), device=device)
        self.joint_targets = torch.zeros(n, len(limits), device=device)  # arm (from IK) and fingers, last sent
        self.object_start_pos = torch.zeros(n, 3, device=device)
        self.target_pos = torch.zeros(n, 3, device=device)
        self.target_quat = torch.zeros(n, 4, device=device)
        self.hold_steps = torch.zeros(n, dtype=torch.long, device=device)
        self.success = torch.zeros(n, dtype=torch.bool, device=device)
        self.infeasible = torch.zeros(n, dtype=torch.bool, device=device)  # latched, where the overlap is read
        self.disturbance_nominal = torch.full((len(limits),), cfg.finger_disturbance_torque, device=device)
        self.disturbance_nominal[:NUM_ARM_JOINTS] = cfg.arm_disturbance_torque
        self.reset()

    @property
    def object_geometry(self) -> torch.Tensor:
        """(N, GEOMETRY_DIM of assets/objects.py) what a teleoperator sees of each environment's object: its 3 MuJoCo
        primitive half-sizes (as `object_properties[:, 1:4]`; unused ones 0) and a one-hot of its shape
        (box, cylinder, capsule, sphere, ellipsoid, the order of `SHAPES`)."""
        shape = torch.nn.functional.one_hot(self.object_properties[:, 4].long(), len(SHAPES))
        return torch.cat((self.object_properties[:, 1:4], shape.to(self.object_properties.dtype)), dim=-1)

    # --- action -------------------------------------------------------------------------------
    def _apply_action(self, actions: torch.Tensor) -> None:
        if actions.shape != (self.num_envs, self.num_actions):
            raise ValueError(
                f"expected actions of shape {(self.num_envs, self.num_actions)}, got {tuple(actions.shape)}"
            )
        self.actions.copy_(actions)
        arm_command, finger_targets = self.action_space(actions)
        if self.finger_guard is not None:
            finger_targets = self.finger_guard(finger_targets, self.finger_targets)
        self.finger_targets.copy_(finger_targets)
        self.joint_targets.copy_(torch.cat((self._differential_ik(arm_command), self.finger_targets), dim=-1))
        self.physics.set_joint_position_target(self.joint_targets)
        self.physics.set_joint_effort(self._disturbance_torques(self.disturbance_nominal))

    def _differential_ik(self, arm_command: torch.Tensor) -> torch.Tensor:
        """Arm joint targets that move the palm by the commanded delta pose (world frame)."""
        cfg = self.cfg
        delta = torch.cat(
            (
                arm_command[:, :3] * cfg.arm_translation_limit,
                arm_command[:, 3:] * cfg.arm_rotation_limit,
            ),
            dim=-1,
        )
        jacobian = self.physics.site_jacobian(self.hand.palm_site)[:, :, :NUM_ARM_JOINTS].to(self.device)
        jt = jacobian.transpose(1, 2)
        jjt = jacobian @ jt + self._ik_regularizer
        q = self.physics.state.joint_pos[:, :NUM_ARM_JOINTS]
        dq = (jt @ torch.linalg.solve(jjt, delta.unsqueeze(-1))).squeeze(-1)
        # null-space pull towards the home posture keeps the arm away from its joint limits
        posture = cfg.ik_posture_gain * (self._arm_home - q)
        dq = dq + posture - (jt @ torch.linalg.solve(jjt, (jacobian @ posture.unsqueeze(-1)))).squeeze(-1)
        return torch.clamp(q + dq, self.arm_limits[:, 0], self.arm_limits[:, 1])

    # --- state, rewards, dones ----------------------------------------------------------------
    def _task_state(self) -> dict[str, torch.Tensor]:
        s = self.physics.state
        object_pos = s.body_pos[:, 0]
        height = object_pos[:, 2] - self.object_rest_height
        tip_contact = s.in_contact[:, : self.num_fingertips]
        thumb = tip_contact[:, self.hand.thumb]
        opposing = tip_contact[:, self._opposing_tips].any(dim=-1) | s.in_contact[:, -1]
        arm_q = s.joint_pos[:, :NUM_ARM_JOINTS]
        margin = self.cfg.joint_limit_margin
        feasible = ((arm_q > self.arm_limits[:, 0] + margin) & (arm_q < self.arm_limits[:, 1] - margin)).all(dim=-1)
        return {
            "object_pos": object_pos,
            "height": height,
            "thumb": thumb,
            "opposing": opposing,
            "held": s.in_contact.any(dim=-1),  # touching a fingertip or the palm
            "feasible": feasible,
        }

    def _update_state(self) -> None:
        cfg, s = self.cfg, self.physics.state
        self._state = t = self._task_state()
        holding = (t["height"] >= cfg.success_height) & t["held"] & t["feasible"]
        self.hold_steps.copy_(torch.where(holding, self.hold_steps + 1, torch.zeros_like(self.hold_steps)))
        self._succeeded = (self.hold_steps >= cfg.success_hold_steps) & ~self.success  # this step, once per episode
        self.success |= self._succeeded
        self._overlap_depth = None
        if self.overlap is not None:
            self._overlap_depth = self.overlap.depth(s.body_pos[:, 1:], s.body_quat[:, 1:])
            self._became_infeasible = (self._overlap_depth > INFEASIBLE_OVERLAP) & ~self.infeasible
            self.infeasible |= self._became_infeasible

    def _reward_terms(self) -> dict[str, torch.Tensor]:
        cfg, s, t = self.cfg, self.physics.state, self._state
        terms = {
            "palm_proximity": rewards.palm_proximity(s.site_pos[:, 0], t["object_pos"]),
            "fingertip_proximity": rewards.fingertip_proximity(s.site_pos[:, 1:], t["object_pos"]),
            "grasp_contact": rewards.grasp_contact(t["thumb"], t["opposing"]),
            "lift": rewards.lift(t["height"], t["held"], cfg.target_lift_height),
            "target_tracking": rewards.target_tracking(t["object_pos"], self.target_pos, t["held"]),
            "success": self._succeeded.float(),
            "excessive_lift": rewards.excessive_lift(t["height"], cfg.max_lift_height),
            "joint_limit": rewards.joint_limit(s.joint_pos, self.physics.joint_limits, cfg.soft_joint_limit_fraction),
        }
        if self.cfg.rewards.finger_overlap:
            terms["finger_overlap"] = self._overlap_depth
        if self.cfg.rewards.infeasible:
            terms["infeasible"] = self._became_infeasible.float()
        return terms

    def _get_dones(self) -> tuple[torch.Tensor, torch.Tensor]:
        fell = self._state["object_pos"][:, 2] < self.cfg.fall_height
        time_out = self.episode_length_buf >= self.max_episode_length
        return (self.success & self.cfg.terminate_on_success) | fell, time_out

    def _episode_log(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        success = self.success[env_ids].float()
        power = self.object_is_power[env_ids]
        log = {"Metrics/success_rate": success}
        if self.overlap is not None:
            log["Metrics/infeasible"] = self.infeasible[env_ids].float()
        if (~power).any():
            log["Metrics/success_pinch"] = success[~power]
        if power.any():
            log["Metrics/success_power"] = success[power]
        return log

    def comparison_members(self, value: str) -> torch.Tensor:
        power = self.object_is_power
        return {"pinch": ~power, "power": power}[value]

    def split_of(self, env_ids: torch.Tensor) -> dict[str, torch.Tensor]:
        family = self.object_is_power[env_ids].long()  # GRASP_TYPES order: pinch, power
        return {"family": family, "object": self.object_index[env_ids]}

    def state_measures(self):
        return grasp_penetration(self)

    # --- what demonstrations, priors and students read ----------------------------------------
    def demo_observation(self) -> dict[str, torch.Tensor]:
        """The fields of `demo_format.obs` for every environment, (N, d) each."""
        s = self.physics.state
        return {
            "joint_pos": s.joint_pos,
            "joint_vel": s.joint_vel,
            "joint_targets": self.joint_targets.clone(),
            "palm_pos": s.site_pos[:, 0],
            "palm_quat": s.site_quat[:, 0],
            "object_pos": s.body_pos[:, 0],
            "object_quat": s.body_quat[:, 0],
            "fingertip_contact": s.in_contact[:, : self.num_fingertips].float(),
            "object_geometry": self.object_geometry,
        }

    def privileged_state(self) -> torch.Tensor:
        """(N, demo_format.state_dim): joint positions and velocities, object position, orientation and velocities."""
        s = self.physics.state
        return torch.cat(
            (s.joint_pos, s.joint_vel, s.body_pos[:, 0], s.body_quat[:, 0], s.body_lin_vel[:, 0], s.body_ang_vel[:, 0]),
            dim=-1,
        )

    def proprioception(self) -> torch.Tensor:
        """(N, 76 with the LEAP hand) what the robot knows about itself (no object state): joint positions, velocities and targets,
        palm position and orientation; a point-cloud student's own observation."""
        s = self.physics.state
        return torch.cat((s.joint_pos, s.joint_vel, self.joint_targets, s.site_pos[:, 0], s.site_quat[:, 0]), dim=-1)

    # --- reset --------------------------------------------------------------------------------
    def _reset_idx(self, env_ids: torch.Tensor) -> None:
        cfg, n, device = self.cfg, len(env_ids), self.device

        def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
            return low + (high - low) * torch.rand(n, *shape, generator=self.generator, device=device)

        home = torch.tensor(cfg.arm_home_pose, device=device)
        arm = home + uniform(-cfg.arm_init_noise, cfg.arm_init_noise, NUM_ARM_JOINTS)
        arm = torch.clamp(
            arm, self.arm_limits[:, 0] + cfg.joint_limit_margin, self.arm_limits[:, 1] - cfg.joint_limit_margin
        )
        fingers = torch.zeros(n, len(self.finger_limits), device=device).clamp(
            self.finger_limits[:, 0], self.finger_limits[:, 1]
        )
        joint_pos = torch.cat((arm, fingers), dim=-1)

        object_pos = torch.stack(
            (uniform(*cfg.object_x_range), uniform(*cfg.object_y_range), self.object_rest_height[env_ids] + 0.001),
            dim=-1,
        )
        object_quat = quat_from_yaw(uniform(*cfg.object_yaw_range))
        self.physics.reset_envs(
            env_ids, joint_pos, torch.zeros_like(joint_pos), {OBJECT_BODY: (object_pos, object_quat)}
        )

        self.object_start_pos[env_ids] = object_pos
        self.target_pos[env_ids] = object_pos + torch.tensor([0.0, 0.0, cfg.target_lift_height], device=device)
        self.target_quat[env_ids] = object_quat
        self.finger_targets[env_ids] = fingers
        self.joint_targets[env_ids] = joint_pos
        self.actions[env_ids] = 0.0
        self.hold_steps[env_ids] = 0
        self.success[env_ids] = False
        self.infeasible[env_ids] = False
        self.disturbance_timer[env_ids] = self._disturbance_interval(n)
        self.action_space.reset(env_ids)

    # --- observations -------------------------------------------------------------------------
    def _get_observations(self) -> TensorDict:
        s = self.physics.state
        limits = self.physics.joint_limits
        joint_pos = 2.0 * (s.joint_pos - limits[:, 0]) / (limits[:, 1] - limits[:, 0]) - 1.0
        low, high = self.finger_limits.unbind(-1)
        finger_targets = 2.0 * (self.finger_targets - low) / (high - low) - 1.0
        palm_pos, palm_quat = s.site_pos[:, 0], s.site_quat[:, 0]
        object_pos, object_quat = s.body_pos[:, 0], s.body_quat[:, 0]
        tip_contact = s.in_contact[:, : self.num_fingertips].float()
        policy = torch.cat(
            (
                joint_pos,
                0.1 * s.joint_vel,
                palm_pos,
                palm_quat,
                object_pos,
                object_quat,
                object_pos - palm_pos,
                self.object_geometry,
                self.target_pos,
                self.target_quat,
                tip_contact,
                self.actions,
                finger_targets,
            ),
            dim=-1,
        )
        fingertips_to_object = (s.site_pos[:, 1:] - object_pos.unsqueeze(1)).flatten(1)
        critic = torch.cat(
            (
                s.body_lin_vel[:, 0],
                s.body_ang_vel[:, 0],
                fingertips_to_object,
                s.contact_force.clamp(max=20.0) / 20.0,
                self.object_properties,
                self.object_is_power.float().unsqueeze(-1),
            ),
            dim=-1,
        )
        return TensorDict({"policy": policy, "critic": critic}, batch_size=[self.num_envs], device=self.device)

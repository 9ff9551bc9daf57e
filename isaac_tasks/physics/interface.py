"""The narrow physics interface every task is written against.

A backend simulates `num_envs` copies of one scene and exposes the quantities a task declared up front
(`SceneQueries`) as batched torch tensors on `device`. Quaternions are (w, x, y, z); poses, velocities,
forces and wrenches are in the world frame; joint quantities follow the order of `SceneQueries.joints`.

Object variants (one object shape per environment, as Isaac Lab's multi-asset spawner does) are chosen
when the backend is built; everything else (states, targets, physical parameters) can change at any time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    import mujoco


@dataclass(frozen=True)
class SceneQueries:
    """What a task reads and commands, declared before the backend is built."""

    joints: tuple[str, ...]
    """Joints whose positions/velocities are read and whose position targets and torques are commanded."""
    bodies: tuple[str, ...] = ()
    """Bodies whose poses and velocities are read and on which wrenches may be applied."""
    sites: tuple[str, ...] = ()
    """Frames attached to bodies (fingertips, palm) whose poses are read; Jacobians are taken at sites."""
    contact_pairs: tuple[tuple[str, str], ...] = ()
    """(body, body) pairs whose contact state and net contact force are read."""
    free_bodies: tuple[str, ...] = ()
    """Bodies with a free root joint whose pose and velocity a task may write (objects)."""
    kinematic_bodies: tuple[str, ...] = ()
    """Bodies moved by the task, not by forces (platforms)."""


@dataclass
class PhysicsState:
    """Snapshot of the declared quantities after the last step or reset."""

    joint_pos: torch.Tensor  # (N, J)
    joint_vel: torch.Tensor  # (N, J)
    body_pos: torch.Tensor  # (N, B, 3)
    body_quat: torch.Tensor  # (N, B, 4)
    body_lin_vel: torch.Tensor  # (N, B, 3) at the body origin
    body_ang_vel: torch.Tensor  # (N, B, 3)
    site_pos: torch.Tensor  # (N, S, 3)
    site_quat: torch.Tensor  # (N, S, 4)
    contact_force: torch.Tensor  # (N, P) magnitude of the net contact force of each pair, 0 when apart
    in_contact: torch.Tensor  # (N, P) bool


@dataclass
class BackendInfo:
    name: str
    physics_dt: float
    num_threads: int
    extra: dict = field(default_factory=dict)


class PhysicsBackend(ABC):
    """Batched simulation of one scene; see the module docstring for conventions."""

    num_envs: int
    device: torch.device
    queries: SceneQueries
    state: PhysicsState
    joint_limits: torch.Tensor
    """(J, 2) lower and upper position limits of the declared joints."""

    @property
    @abstractmethod
    def info(self) -> BackendInfo: ...

    @abstractmethod
    def step(self, num_substeps: int) -> torch.Tensor:
        """Advance all environments by `num_substeps` physics steps, holding the current commands.

        Refreshes `state` and returns an (N,) bool mask of environments whose state diverged (non-finite
        or rejected by the engine); their state is undefined until they are reset.
        """

    @abstractmethod
    def reset_envs(
        self,
        env_ids: torch.Tensor,
        joint_pos: torch.Tensor,
        joint_vel: torch.Tensor,
        root_poses: dict[str, tuple[torch.Tensor, torch.Tensor]],
        root_velocities: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None,
    ) -> None:
        """Write joint states, free-body poses (pos, quat) and velocities (linear, angular; zero where
        not given) of `env_ids`, clear their external forces and solver history, set position targets
        to `joint_pos`, and refresh `state`."""

    @abstractmethod
    def set_kinematic_pose(self, body: str, pos: torch.Tensor, quat: torch.Tensor) -> None:
        """(N, 3), (N, 4) pose of a declared kinematic body, held from the next step on."""

    @abstractmethod
    def set_joint_position_target(self, targets: torch.Tensor) -> None:
        """(N, J) position targets of the declared joints' servos."""

    @abstractmethod
    def set_joint_effort(self, torques: torch.Tensor) -> None:
        """(N, J) external torques added on the declared joints until changed."""

    @abstractmethod
    def set_body_wrench(self, forces: torch.Tensor, torques: torch.Tensor) -> None:
        """(N, B, 3) world-frame forces and torques at the declared bodies' centres of mass."""

    @abstractmethod
    def site_jacobian(self, site: str) -> torch.Tensor:
        """(N, 6, J) linear and angular Jacobian of a declared site w.r.t. the declared joints."""

    @abstractmethod
    def ray_cast(self, origins: torch.Tensor, directions: torch.Tensor, body: str | None = None) -> torch.Tensor:
        """(N, R) distance along each ray to the first surface of the current scene, inf for a miss.

        Rays are world-frame origins and unit directions, (N, R, 3) or broadcastable to it (depth cameras).
        With `body`, a ray whose first surface belongs to another body is a miss too: the depth image masked
        to that body, occlusions kept (what a segmentation mask of the object gives a real camera).
        """

    @abstractmethod
    def render_data(
        self, env_id: int, model: mujoco.MjModel | None = None, data: mujoco.MjData | None = None
    ) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """Environment `env_id` as CPU MuJoCo structures for rendering: a copy of its model (its object
        variant) and its current state with positions computed (poses of bodies, geoms, cameras, lights).

        Pass back the pair a previous call returned for the same environment to reuse it: the model is
        returned as it is and the data is overwritten with the current state.
        """

    # Per-environment physical parameters (domain randomization).
    @abstractmethod
    def set_friction(self, env_ids: torch.Tensor, body: str, friction: torch.Tensor) -> None:
        """Sliding friction coefficient (n,) of every collision shape of `body`."""

    @abstractmethod
    def scale_mass(self, env_ids: torch.Tensor, body: str, scale: torch.Tensor) -> None:
        """Factor (n,) on the nominal mass and inertia of `body`."""

    @abstractmethod
    def scale_joint_gains(
        self, env_ids: torch.Tensor, stiffness_scale: torch.Tensor, damping_scale: torch.Tensor
    ) -> None:
        """(n, J) factors on the nominal servo stiffness and on the nominal joint damping (servo and passive)."""

    @abstractmethod
    def set_joint_limits(self, env_ids: torch.Tensor, limits: torch.Tensor) -> None:
        """(n, J, 2) position limits of the declared joints."""

    @abstractmethod
    def set_gravity(self, env_ids: torch.Tensor, gravity: torch.Tensor) -> None:
        """(n, 3) gravity vector."""

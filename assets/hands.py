"""Hands as data: what a task needs to know of a hand, and how to place one in a scene.

A `Hand` names the hand's joints (in actuator order), their limits and servo gains, its fingertip and palm
sites and bodies, its collision links grouped by finger (for penetration and self-overlap), and the
closing synergies of scripted grasps. Tasks read these fields and never a hand module's constants, so that
each task runs with any hand described here (assets/leap_hand.py, assets/orca_hand.py).

Every hand's palm site follows one convention: x along the fingers, z out of the palm (the grasping side).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import mujoco
import numpy as np

# The palm site's rotation in the world for a hand palm down (z out of the palm pointing down) or palm up,
# fingers along +x in both.
PALM_DOWN = np.diag([1.0, -1.0, -1.0])
PALM_UP = np.eye(3)


@dataclass(frozen=True, eq=False)
class Hand:
    name: str
    joint_names: tuple[str, ...]  # actuated joints, in actuator order (actuator name == joint name)
    joint_limits: np.ndarray  # (J, 2) rad
    kp: float  # N m / rad, position servos
    kd: float  # N m s / rad
    effort: float  # N m, servo torque limit
    fingertip_sites: tuple[str, ...]
    fingertip_bodies: tuple[str, ...]  # in the order of the sites
    thumb: int  # position of the thumb in the fingertip tuples
    palm_body: str
    palm_site: str  # x along the fingers, z out of the palm
    payload_bodies: tuple[str, ...]  # what an arm carries of the hand (gravity-compensated when mounted on one)
    link_groups: dict[str, tuple[str, ...]]  # collision link bodies: the palm group first, then one per finger
    # link pairs of different groups whose collision shapes overlap at rest by construction: not penetration
    overlap_exclude: tuple[tuple[str, str], ...]
    link_friction: float  # nominal sliding friction of the links
    finger_of_joint: tuple[int, ...]  # the fingertip each joint moves (-1: none, as a wrist)
    flex_joints: tuple[int, ...]  # per fingertip, the joint whose servo lag measures that finger's grip
    # Scripted grasps: the closing joint targets of each strategy (rad, joint order) and the fingertips that
    # close onto the object in it (1/0 per fingertip).
    synergies: dict[str, tuple[float, ...]]
    active_fingers: dict[str, tuple[int, ...]]
    grasp_scale: float  # the hand's size relative to the LEAP hand, for the geometry of scripted grasps
    build: Callable[[mujoco.MjSpec, mujoco.MjsBody], None] = field(repr=False)  # adds the hand and its servos

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def link_bodies(self) -> tuple[str, ...]:
        return tuple(body for group in self.link_groups.values() for body in group)

    def validate(self) -> None:
        j, f = self.num_joints, len(self.fingertip_sites)
        if self.joint_limits.shape != (j, 2) or len(self.finger_of_joint) != j:
            raise ValueError(f"hand '{self.name}': joint limits and finger_of_joint need one entry per joint")
        if len(self.fingertip_bodies) != f or len(self.flex_joints) != f or not 0 <= self.thumb < f:
            raise ValueError(f"hand '{self.name}': fingertip bodies, flex joints and thumb must match the sites")
        for name, synergy in self.synergies.items():
            if len(synergy) != j or len(self.active_fingers.get(name, ())) != f:
                raise ValueError(f"hand '{self.name}': synergy '{name}' needs {j} targets and {f} active flags")


def _pose_matrix(pos, rot) -> np.ndarray:
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rot, pos
    return pose


@cache
def palm_in_base(hand: Hand) -> np.ndarray:
    """(4, 4) the palm site's pose in the frame the hand is built in, all joints at 0."""
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    hand.build(spec, spec.worldbody)
    model = spec.compile()
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    site = data.site(hand.palm_site)
    return _pose_matrix(site.xpos, site.xmat.reshape(3, 3))


def mount_hand(spec: mujoco.MjSpec, parent: mujoco.MjsBody, hand: Hand, palm_pos, palm_rot) -> None:
    """Build `hand` under `parent` so that, with its joints at 0, its palm site lies at `palm_pos` with
    rotation `palm_rot` (3, 3) in the parent's frame."""
    base = _pose_matrix(palm_pos, palm_rot) @ np.linalg.inv(palm_in_base(hand))
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, base[:3, :3].flatten())
    hand.build(spec, parent.add_body(name="hand_mount", pos=base[:3, 3], quat=quat))


def set_physics_options(spec: mujoco.MjSpec, timestep: float) -> None:
    """Implicitfast integration at `timestep`, sparse constraint Jacobians: MuJoCo picks dense ones for models this
    small, and sparse ones take 0.74 of the time per step while a hand holds an object (docs/benchmarks.md); the
    solution is the same up to rounding."""
    spec.option.timestep = timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.jacobian = mujoco.mjtJacobian.mjJAC_SPARSE


def fixed_hand_spec(hand: Hand, palm_height: float, palm_down: bool, timestep: float) -> mujoco.MjSpec:
    """The hand alone, fixed in the world: palm site at (0, 0, palm_height), fingers along +x, palm facing down
    or up; the physics options of `set_physics_options`."""
    spec = mujoco.MjSpec()
    spec.modelname = f"{hand.name}_fixed"
    spec.compiler.degree = False
    set_physics_options(spec, timestep)
    mount_hand(spec, spec.worldbody, hand, (0.0, 0.0, palm_height), PALM_DOWN if palm_down else PALM_UP)
    return spec

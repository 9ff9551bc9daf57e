"""The grasping scene: a Franka arm with a hand at the origin, a table in front, one object per environment."""

from __future__ import annotations

import mujoco

from assets.franka import franka_hand_spec
from assets.hands import Hand
from assets.objects import ObjectSpec

OBJECT_BODY = "object"
# The table top is at z = 0, level with the robot base, and reaches under the robot so that an object
# pushed back towards the base stays on it.
TABLE_HALF_SIZE = (0.65, 0.6, 0.02)  # m
TABLE_CENTER = (0.35, 0.0, -0.02)
TABLE_RGBA = (0.55, 0.42, 0.3, 1.0)  # colours are for videos only
OBJECT_RGBA = (0.95, 0.45, 0.1, 1.0)
# Free cameras of videos (isaac_tasks/evaluation/video.py): the workspace above the table in front of the
# robot, seen from beyond the table (front), from the robot's right (side) and from above (top).
VIDEO_CAMERAS = {
    "front": dict(lookat=(0.4, 0.0, 0.3), distance=1.45, azimuth=150.0, elevation=-20.0),
    "side": dict(lookat=(0.4, 0.0, 0.3), distance=1.4, azimuth=90.0, elevation=-10.0),
    "top": dict(lookat=(0.4, 0.0, 0.0), distance=1.5, azimuth=180.0, elevation=-89.0),
    # close on the area where objects are placed, to see fingers and objects
    "close": dict(lookat=(0.52, 0.0, 0.12), distance=0.75, azimuth=140.0, elevation=-25.0),
}

_SHAPES = {
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
    "ellipsoid": mujoco.mjtGeom.mjGEOM_ELLIPSOID,
}


def grasp_scene(hand: Hand, obj: ObjectSpec, timestep: float) -> mujoco.MjSpec:
    """Arm with `hand`, table and `obj` resting on the table in front of the robot."""
    spec = franka_hand_spec(hand, timestep)
    spec.worldbody.add_geom(
        name="table",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=TABLE_HALF_SIZE,
        pos=TABLE_CENTER,
        rgba=TABLE_RGBA,
        contype=1,
        conaffinity=1,
        friction=[1.0, 0.005, 0.0001],
    )
    # Elliptic friction cones with a high impedance ratio hold grasped objects without creeping slip
    # (MuJoCo's advice for grasping; MuJoCo Menagerie's LEAP scenes do the same).
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    # The arm stands on the table top: its shoulder link turns in its mount, it does not rub on the table.
    spec.add_exclude(bodyname1="world", bodyname2="panda_link1")
    body = spec.worldbody.add_body(name=OBJECT_BODY, pos=[0.5, 0.0, obj.rest_height])
    body.add_freejoint(name="object_root")
    body.add_geom(
        name="object_geom",
        type=_SHAPES[obj.shape],
        size=obj.size,
        mass=obj.mass,
        friction=[obj.friction, 0.005, 0.0001],
        rgba=OBJECT_RGBA,
        condim=4,
        contype=1,
        conaffinity=1,
    )
    return spec

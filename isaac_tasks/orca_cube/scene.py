"""The rotation scene: the ORCA hand palm down, a 45 mm cube under the palm on a kinematic platform."""

from __future__ import annotations

import mujoco

from assets.orca_hand import PALM_HEIGHT, orca_hand_spec

CUBE_BODY = "cube"
PLATFORM_BODY = "platform"
# Cube centre under the palm, shifted towards the fingers; its top 1.25 cm below the palm surface.
CUBE_GAP = 0.0125  # m
CUBE_XY = (0.03, 0.0)
PLATFORM_HALF_SIZE = (0.03, 0.03, 0.005)  # m


def cube_start_height(cube_size: float) -> float:
    return PALM_HEIGHT - CUBE_GAP - 0.5 * cube_size


def platform_support_pos(cube_size: float) -> tuple[float, float, float]:
    """Platform centre with its top touching the bottom of the cube at rest."""
    top = cube_start_height(cube_size) - 0.5 * cube_size
    return (*CUBE_XY, top - PLATFORM_HALF_SIZE[2])


def cube_scene(cube_size: float, cube_mass: float) -> mujoco.MjSpec:
    spec = orca_hand_spec(palm_down=True)
    platform = spec.worldbody.add_body(name=PLATFORM_BODY, pos=platform_support_pos(cube_size), mocap=True)
    platform.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=PLATFORM_HALF_SIZE, contype=1, conaffinity=1)
    cube = spec.worldbody.add_body(name=CUBE_BODY, pos=(*CUBE_XY, cube_start_height(cube_size)))
    cube.add_freejoint(name="cube_root")
    half = 0.5 * cube_size
    cube.add_geom(
        name="cube_geom",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=(half, half, half),
        mass=cube_mass,
        friction=(1.0, 0.005, 0.0001),
        condim=4,
        contype=1,
        conaffinity=1,
    )
    return spec

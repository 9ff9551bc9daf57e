"""The rotation scene: a hand fixed palm down, a cube under the palm on a kinematic platform."""

from __future__ import annotations

import mujoco

from assets.hands import Hand, fixed_hand_spec

CUBE_BODY = "cube"
PLATFORM_BODY = "platform"
# Cube centre under the palm, shifted towards the fingers; its top 1.25 cm below the palm surface.
CUBE_GAP = 0.0125  # m
PALM_HEIGHT = 0.30  # m, the palm site above the world origin
PLATFORM_WIDTH = 4 / 3  # x the cube's edge: 60 mm under the 45 mm ORCA cube, scaled with the cube for other hands
PLATFORM_HALF_THICKNESS = 0.005  # m
CUBE_RGBA = (0.95, 0.45, 0.1, 1.0)  # colours are for videos only
PLATFORM_RGBA = (0.3, 0.45, 0.7, 1.0)
# Free cameras of videos (isaac_tasks/evaluation/video.py), aimed at the cube under the palm: from in front
# of the fingertips and a little below the palm (front), from the hand's right (side), from above (top).
VIDEO_CAMERAS = {
    "front": dict(lookat=(0.0, 0.0, 0.285), distance=0.32, azimuth=150.0, elevation=-12.0),
    "side": dict(lookat=(0.0, 0.0, 0.28), distance=0.45, azimuth=90.0, elevation=-5.0),
    "top": dict(lookat=(-0.02, 0.0, 0.3), distance=0.5, azimuth=180.0, elevation=-89.0),
}


def cube_start_height(cube_size: float) -> float:
    return PALM_HEIGHT - CUBE_GAP - 0.5 * cube_size


def platform_support_pos(cube_size: float, cube_xy: tuple[float, float]) -> tuple[float, float, float]:
    """Platform centre with its top touching the bottom of the cube at rest."""
    top = cube_start_height(cube_size) - 0.5 * cube_size
    return (*cube_xy, top - PLATFORM_HALF_THICKNESS)


def cube_scene(hand: Hand, cube_size: float, cube_mass: float, cube_xy: tuple[float, float], timestep: float):
    """`hand` palm down with its palm site at (0, 0, PALM_HEIGHT), fingers along +x; the cube resting on the
    platform under the palm, its centre at `cube_xy`."""
    spec = fixed_hand_spec(hand, PALM_HEIGHT, palm_down=True, timestep=timestep)
    # Elliptic friction cones with a high impedance ratio, as in the grasping scene: under MuJoCo's default
    # (pyramidal, impratio 1) the cube, pinched between thumb and little fingertip with 9 N each (30 times
    # what its weight needs), creeps out at 2 cm/s and falls within a second of the platform leaving.
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    platform = spec.worldbody.add_body(name=PLATFORM_BODY, pos=platform_support_pos(cube_size, cube_xy), mocap=True)
    platform.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=(0.5 * PLATFORM_WIDTH * cube_size, 0.5 * PLATFORM_WIDTH * cube_size, PLATFORM_HALF_THICKNESS),
        contype=1,
        conaffinity=1,
        rgba=PLATFORM_RGBA,
    )
    cube = spec.worldbody.add_body(name=CUBE_BODY, pos=(*cube_xy, cube_start_height(cube_size)))
    cube.add_freejoint(name="cube_root")
    half = 0.5 * cube_size
    cube.add_geom(
        name="cube_geom",
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=(half, half, half),
        mass=cube_mass,
        friction=(1.0, 0.005, 0.0001),
        rgba=CUBE_RGBA,
        condim=4,
        contype=1,
        conaffinity=1,
    )
    return spec

"""Franka Panda arm with a hand (assets/hands.py) on its flange, generated with mujoco.MjSpec.

Base at the spec origin, z up; no floor or table. Every hand is mounted with its palm site where the LEAP
hand's is (the LEAP palm on a 1 cm adapter plate): on the flange axis, 5.7 cm out, the palm facing along
the flange z axis and the fingers along world +x in the ready pose (palm down).
Write the generated MJCF for inspection: python -m assets.franka leap|orca out.xml

Sources (numbers only, the code is ours):
- joint origins, limits, effort limits and self-collision capsules: frankaemika/franka_ros,
  franka_description/robots/panda_arm.xacro (equivalent to Franka's published modified-DH table)
- link masses/COM/inertia, joint armature/damping and servo stiffness kp (damping is ours, see ARM_KV_PER_KP):
  google-deepmind/mujoco_menagerie, franka_emika_panda/panda_nohand.xml
"""

import sys
from dataclasses import dataclass

import mujoco
import numpy as np

from assets.hands import Hand, mount_hand, set_physics_options
from assets.leap_hand import LEAP_HAND, rpy_quat
from assets.orca_hand import ORCA_HAND

HALF_PI = np.pi / 2
ARM_JOINT_NAMES = tuple(f"panda_joint{i}" for i in range(1, 8))
ARM_JOINT_LIMITS = np.array(
    [
        [-2.8973, 2.8973],
        [-1.7628, 1.7628],
        [-2.8973, 2.8973],
        [-3.0718, -0.0698],
        [-2.8973, 2.8973],
        [-0.0175, 3.7525],
        [-2.8973, 2.8973],
    ]
)
ARM_READY_POSE = np.array([0.0, -0.785, 0.0, -2.356, 0.0, 1.571, 0.785])
ARM_KP = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)
ARM_EFFORT = (87.0, 87.0, 87.0, 87.0, 12.0, 12.0, 12.0)
ARM_ARMATURE, ARM_DAMPING = 0.1, 1.0
# Menagerie's kv = kp / 10 caps a saturated joint at effort / kv: 0.2 rad/s at the shoulder, 0.06 at the wrist
# (the real arm reaches 2.2 and 2.6 rad/s); kp / 40 damps the stiff servos and lets the wrist turn.
ARM_KV_PER_KP = 1 / 40
FLANGE_POS = (0.0, 0.0, 0.107)
# The palm site of a mounted hand in the flange frame: 5.7 cm along the flange axis (the LEAP palm's thickness
# and its adapter plate), turned by -45 deg about that axis so the fingers point along world +x at ready.
PALM_IN_FLANGE_POS = (0.0, 0.0, 0.057)
PALM_IN_FLANGE_ROT = np.array([[np.sqrt(0.5), np.sqrt(0.5), 0.0], [-np.sqrt(0.5), np.sqrt(0.5), 0.0], [0.0, 0.0, 1.0]])
TIMESTEP = 0.01
HANDS = {hand.name: hand for hand in (LEAP_HAND, ORCA_HAND)}
LINK_RGBA = (0.9, 0.9, 0.9, 1.0)

Capsule = tuple[tuple[float, float, float], tuple[float, float, float], float, float]  # centre, dir, r, length


@dataclass(frozen=True)
class ArmLink:
    origin_xyz: tuple[float, float, float]  # URDF joint origin in the parent link frame
    origin_rpy: tuple[float, float, float]
    mass: float
    com: tuple[float, float, float]
    fullinertia: tuple[float, float, float, float, float, float]  # Ixx Iyy Izz Ixy Ixz Iyz
    capsules: tuple[Capsule, ...]


_Z, _X = (0.0, 0.0, 1.0), (1.0, 0.0, 0.0)
_DIAG = (np.sqrt(0.5), np.sqrt(0.5), 0.0)
# The capsules below link1 and link0 are raised off z=0 so the arm never touches a table at its base.
LINK0 = ArmLink(
    (0, 0, 0),
    (0, 0, 0),
    0.629769,
    (-0.041018, -0.00014, 0.049974),
    (0.00315, 0.00388, 0.004285, 8.2904e-7, 0.00015, 8.2299e-6),
    (((-0.075, 0.0, 0.07), _X, 0.06, 0.03),),
)
ARM_LINKS = (
    ArmLink(
        (0, 0, 0.333),
        (0, 0, 0),
        4.970684,
        (0.003875, 0.002081, -0.04762),
        (0.70337, 0.70661, 0.009117, -0.000139, 0.006772, 0.019169),
        (((0.0, 0.0, -0.17), _Z, 0.06, 0.24),),
    ),
    ArmLink(
        (0, 0, 0),
        (-HALF_PI, 0, 0),
        0.646926,
        (-0.003141, -0.02872, 0.003495),
        (0.007962, 0.02811, 0.025995, -0.003925, 0.010254, 0.000704),
        (((0.0, 0.0, 0.0), _Z, 0.06, 0.12),),
    ),
    ArmLink(
        (0, -0.316, 0),
        (HALF_PI, 0, 0),
        3.228604,
        (0.027518, 0.039252, -0.066502),
        (0.037242, 0.036155, 0.01083, -0.004761, -0.011396, -0.012805),
        (((0.0, 0.0, -0.145), _Z, 0.06, 0.15),),
    ),
    ArmLink(
        (0.0825, 0, 0),
        (HALF_PI, 0, 0),
        3.587895,
        (-0.05317, 0.104419, 0.027454),
        (0.025853, 0.019552, 0.028323, 0.007796, -0.001332, 0.008641),
        (((0.0, 0.0, 0.0), _Z, 0.06, 0.12),),
    ),
    ArmLink(
        (-0.0825, 0.384, 0),
        (-HALF_PI, 0, 0),
        1.225946,
        (-0.011953, 0.041065, -0.038437),
        (0.035549, 0.029474, 0.008627, -0.002117, -0.004037, 0.000229),
        (((0.0, 0.0, -0.26), _Z, 0.06, 0.10), ((0.0, 0.08, -0.13), _Z, 0.025, 0.14)),
    ),
    ArmLink(
        (0, 0, 0),
        (HALF_PI, 0, 0),
        1.666555,
        (0.060149, -0.014117, -0.010517),
        (0.001964, 0.004354, 0.005433, 0.000109, -0.001158, 0.000341),
        (((0.0, 0.0, -0.03), _Z, 0.05, 0.08),),
    ),
    ArmLink(
        (0.088, 0, 0),
        (HALF_PI, 0, 0),
        0.735522,
        (0.010517, -0.004252, 0.061597),
        (0.012516, 0.010027, 0.004815, -0.000428, -0.001196, -0.000741),
        (((0.0, 0.0, 0.01), _Z, 0.04, 0.14), ((0.06 * _DIAG[0], 0.06 * _DIAG[1], 0.082), _DIAG, 0.03, 0.01)),
    ),
)


def _add_arm_link(parent: mujoco.MjsBody, name: str, link: ArmLink) -> mujoco.MjsBody:
    body = parent.add_body(
        name=name,
        pos=link.origin_xyz,
        quat=rpy_quat(link.origin_rpy),
        mass=link.mass,
        ipos=link.com,
        fullinertia=link.fullinertia,
        explicitinertial=True,
        gravcomp=1.0,
    )
    for centre, direction, radius, length in link.capsules:
        centre, half = np.asarray(centre), 0.5 * length * np.asarray(direction)
        body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_CAPSULE,
            fromto=(*(centre - half), *(centre + half)),
            size=(radius, 0, 0),
            contype=1,
            conaffinity=0,
            condim=3,
            group=0,
            rgba=LINK_RGBA,
        )
    return body


def franka_hand_spec(hand: Hand, timestep: float = TIMESTEP) -> mujoco.MjSpec:
    """Panda + `hand`; actuators in the order of the arm's then the hand's joints."""
    spec = mujoco.MjSpec()
    spec.modelname = f"franka_{hand.name}"
    spec.compiler.degree = False
    set_physics_options(spec, timestep)
    body = _add_arm_link(spec.worldbody, "panda_link0", LINK0)
    for i, (link, name, rng) in enumerate(zip(ARM_LINKS, ARM_JOINT_NAMES, ARM_JOINT_LIMITS), start=1):
        body = _add_arm_link(body, f"panda_link{i}", link)
        body.gravcomp = 1.0  # the Franka's controller compensates the arm's weight (Isaac Lab disables its gravity)
        body.add_joint(name=name, axis=(0, 0, 1), range=rng, armature=ARM_ARMATURE, damping=ARM_DAMPING)
    flange = body.add_body(name="panda_flange", pos=FLANGE_POS)
    for name, rng, kp, effort in zip(ARM_JOINT_NAMES, ARM_JOINT_LIMITS, ARM_KP, ARM_EFFORT):
        act = spec.add_actuator(
            name=name,
            target=name,
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrlrange=rng,
            ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
            forcerange=(-effort, effort),
            forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )
        act.set_to_position(kp=kp, kv=kp * ARM_KV_PER_KP)
    mount_hand(spec, flange, hand, PALM_IN_FLANGE_POS, PALM_IN_FLANGE_ROT)
    for name in hand.payload_bodies:  # the arm carries the hand (Franka compensates its load)
        spec.body(name).gravcomp = 1.0
    return spec


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in HANDS:
        sys.exit(f"usage: python -m assets.franka {{{','.join(HANDS)}}} OUTPUT.xml")
    with open(sys.argv[2], "w") as f:
        f.write(franka_hand_spec(HANDS[sys.argv[1]]).to_xml())

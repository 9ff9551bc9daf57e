"""LEAP hand (right), generated with mujoco.MjSpec from the authors' published kinematics.

Joint order (== actuator order) is the LEAP hardware / URDF order, motor ids 0..15:

    id  name            URDF  joint
    0   index_mcp_abd   "0"   MCP side-to-side (abduction/adduction)
    1   index_mcp_flex  "1"   MCP flexion
    2   index_pip       "2"   PIP flexion
    3   index_dip       "3"   DIP flexion
    4-7   middle_*      "4".."7"   (same order as index)
    8-11  ring_*        "8".."11"  (same order as index)
    12  thumb_cmc       "12"  thumb rotation towards the palm (CMC)
    13  thumb_axl       "13"  thumb axial rotation
    14  thumb_mcp       "14"  thumb MCP flexion
    15  thumb_ip        "15"  thumb IP flexion

In each finger the MCP-flexion link is the parent of the MCP-abduction link (as in the URDF), so
the qpos/dof order of the hand is (flex, abd, pip, dip) per finger: index joints by name.

Frames: the palm body frame is the URDF `palm_lower` frame (fingers along +x, thumb on +y, palm
surface facing -z). `add_leap_hand` mounts the back of the palm (through a 1 cm adapter plate) on the
parent origin with the palm normal along parent +z and the fingers along parent +x; the servos are
added separately by `add_leap_actuators`. Site `palm` (on the palm surface, between the finger bases
and the wrist, on the middle-finger line) has z out of the palm and x along the fingers. Fingertip
sites sit at the published tip points, the far end of the distal pad capsules.

Write the generated MJCF for inspection: python -m assets.leap_hand out.xml

Sources (numbers only, the code is ours):
- joint origins/axes/limits: leap-hand/LEAP_Hand_Sim, assets/leap_hand/robot.urdf
- fingertip points: dexsuite/dex-urdf, robots/hands/leap_hand/leap_hand_right.urdf (*_tip_head)
- link masses: robot.urdf above; link COM/principal inertia and collision box sizes:
  google-deepmind/mujoco_menagerie, leap_hand/right_hand.xml (same link frames as the URDF)
- servo gains kp=3, kd=0.1: leap-hand/LEAP_Hand_Sim, leapsim/cfg/task/LeapHandRot.yaml;
  effort limit 0.95 N m: robot.urdf
"""

import sys
from dataclasses import dataclass

import mujoco
import numpy as np

from assets.hands import Hand, set_physics_options

HALF_PI = np.pi / 2
FINGERS = ("index", "middle", "ring", "thumb")
LEAP_JOINT_NAMES = (
    "index_mcp_abd",
    "index_mcp_flex",
    "index_pip",
    "index_dip",
    "middle_mcp_abd",
    "middle_mcp_flex",
    "middle_pip",
    "middle_dip",
    "ring_mcp_abd",
    "ring_mcp_flex",
    "ring_pip",
    "ring_dip",
    "thumb_cmc",
    "thumb_axl",
    "thumb_mcp",
    "thumb_ip",
)
_FINGER_RANGES = ((-1.047, 1.047), (-0.314, 2.23), (-0.506, 1.885), (-0.366, 2.042))
LEAP_JOINT_LIMITS = np.array(3 * _FINGER_RANGES + ((-0.349, 2.094), (-0.47, 2.443), (-1.20, 1.90), (-1.34, 1.88)))
LEAP_FINGERTIP_SITES = ("index_tip", "middle_tip", "ring_tip", "thumb_tip")
LEAP_FINGERTIP_BODIES = ("index_distal", "middle_distal", "ring_distal", "thumb_distal")
LEAP_PALM_BODY = "palm"

KP, KV, EFFORT = 3.0, 0.1, 0.95
ARMATURE = 1e-3  # ~ Dynamixel XC330 rotor inertia x gear ratio^2; keeps dt=0.01 s stable
TIMESTEP = 0.01
JOINT_AXIS = (0.0, 0.0, -1.0)  # every LEAP joint turns about -z of its child link

# Palm geometry in the palm_lower frame.
PALM_SURFACE_Z = -0.035  # grasping side of the palm
PALM_BACK_Z = 0.012
PALM_CENTRE_XY = (-0.05, -0.0224)
MOUNT_THICKNESS = 0.01  # adapter plate between the back of the palm and the parent (flange)
PALM_SITE_QUAT = (0.0, 1.0, 0.0, 0.0)  # z out of the palm, x along the fingers
MOUNT_QUAT = (0.0, 1.0, 0.0, 0.0)  # palm_lower orientation in the parent (rotation by pi about x)
MOUNT_POS = (-PALM_CENTRE_XY[0], PALM_CENTRE_XY[1], PALM_BACK_Z + MOUNT_THICKNESS)

PAD_RADIUS = 0.01
PAD_FRICTION = (1.0, 0.01, 0.0001)
LINK_RGBA = (0.2, 0.2, 0.2, 1.0)
PAD_RGBA = (0.9, 0.9, 0.9, 1.0)

Box = tuple[tuple[float, float, float], tuple[float, float, float]]  # (centre, half sizes)


@dataclass(frozen=True)
class Link:
    suffix: str
    mass: float
    com: tuple[float, float, float]
    iquat: tuple[float, float, float, float]
    inertia: tuple[float, float, float]
    boxes: tuple[Box, ...]


PALM = Link(
    "",
    0.237,
    (-0.049542, -0.042914, -0.010227),
    (0.565586, 0.427629, -0.574956, 0.408254),
    (4.07345e-4, 3.04759e-4, 1.80736e-4),
    (
        ((-0.009, -0.037, -0.011), (0.011, 0.058, 0.017)),  # finger-base block
        ((-0.048, -0.033, -0.0115), (0.012, 0.058, 0.023)),  # palm
        ((-0.078, -0.058, -0.0115), (0.022, 0.031, 0.023)),  # heel, ring side
        ((-0.078, -0.003, 0.01), (0.022, 0.028, 0.002)),  # back plate, thumb side
        (
            (PALM_CENTRE_XY[0], PALM_CENTRE_XY[1], PALM_BACK_Z + MOUNT_THICKNESS / 2),
            (0.03, 0.03, MOUNT_THICKNESS / 2),
        ),  # mount adapter
    ),
)
_SIDE_PLATES_MD = (((0.0, -0.0045, 0.03), (0.007, 0.01, 0.002)), ((0.0, -0.0045, 0.0), (0.007, 0.01, 0.002)))
_SIDE_PLATES_DS = (((0.0, -0.006, 0.03), (0.007, 0.011, 0.002)), ((0.0, -0.006, -0.001), (0.007, 0.011, 0.002)))
FINGER_LINKS = (  # children of the MCP flexion, MCP abduction, PIP and DIP joints
    Link(
        "base",
        0.044,
        (-0.022516, 0.033882, 0.016359),
        (0.388092, 0.677951, -0.247713, 0.573067),
        (1.74972e-5, 1.61504e-5, 7.21342e-6),
        (
            ((-0.027, 0.042, 0.015), (0.014, 0.02, 0.01)),
            ((0.0, 0.018, 0.0147), (0.01, 0.003, 0.017)),
            ((-0.0262, 0.02, 0.0146), (0.017, 0.003, 0.01)),
        ),
    ),
    Link(
        "proximal",
        0.032,
        (0.0075, -0.0002, -0.011),
        (0.0, 0.707107, 0.0, 0.707107),
        (4.8853e-6, 4.3733e-6, 3.0933e-6),
        (((0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),),
    ),
    Link(
        "middle",
        0.037,
        (0.0054215, -0.029148, 0.015),
        (0.687228, 0.687228, 0.166487, 0.166487),
        (8.28004e-6, 8.1598e-6, 5.39516e-6),
        (
            ((0.0075, -0.035, 0.015), (0.017, 0.011, 0.013)),
            ((0.0, -0.016, 0.015), (0.01, 0.002, 0.017)),
        )
        + _SIDE_PLATES_MD,
    ),
    Link(
        "distal",
        0.016,
        (-0.0008794, -0.027019, 0.014594),
        (0.702905, 0.710643, -0.0212937, -0.0214203),
        (3.71863e-6, 3.02396e-6, 1.6518e-6),
        (((0.0, -0.017, 0.015), (0.01, 0.003, 0.015)),) + _SIDE_PLATES_DS,
    ),
)
THUMB_LINKS = (
    Link(
        "base",
        0.032,
        (0.0075, -0.0002, -0.011),
        (0.0, 0.707107, 0.0, 0.707107),
        (4.8853e-6, 4.3733e-6, 3.0933e-6),
        (((-0.0075, -0.0002, -0.011), (0.017, 0.013, 0.011)),),
    ),
    Link(
        "proximal",
        0.003,
        (0.0, 0.0, -0.0070806),
        (0.707107, 0.707107, 0.0, 0.0),
        (6.1932e-7, 5.351e-7, 2.1516e-7),
        (
            ((0.0, 0.0, -0.0015), (0.009, 0.0165, 0.002)),
            ((0.0, -0.015, -0.013), (0.007, 0.002, 0.01)),
            ((0.0, 0.015, -0.013), (0.007, 0.002, 0.01)),
        ),
    ),
    Link(
        "middle",
        0.038,
        (-0.0020593, 0.015912, -0.013733),
        (0.698518, 0.697382, -0.104933, 0.121324),
        (9.87104e-6, 9.32653e-6, 4.36203e-6),
        (
            ((0.0, 0.0105, -0.014), (0.01, 0.02, 0.012)),
            ((0.0, 0.031, -0.015), (0.01, 0.002, 0.016)),
            ((0.0, 0.042, 0.001), (0.007, 0.01, 0.002)),
            ((0.0, 0.042, -0.029), (0.007, 0.01, 0.002)),
            ((-0.0135, 0.0175, -0.011656), (0.005, 0.012, 0.009)),
        ),
    ),
    Link(
        "distal",
        0.049,
        (0.00096191, -0.024203, -0.014419),
        (0.35287, 0.311272, -0.632839, 0.614904),
        (2.08591e-5, 2.0402e-5, 4.71335e-6),
        (
            ((0.0, -0.0085, -0.015), (0.01, 0.018, 0.012)),
            ((0.0, -0.029, -0.014), (0.01, 0.002, 0.015)),
            ((0.015, -0.0175, -0.0115), (0.004, 0.012, 0.009)),
        ),
    ),
)

# URDF joint origins (xyz, rpy) in the parent link frame, parent-to-child along each finger.
_ABD_ORIGIN = ((-0.0122, 0.0381, 0.0145), (-HALF_PI, 0.0, HALF_PI))
_PIP_ORIGIN = ((0.015, 0.0143, -0.013), (HALF_PI, -HALF_PI, 0.0))
_DIP_ORIGIN = ((0.0, -0.0361, 0.0002), (0.0, 0.0, 0.0))
_MCP_RPY = (HALF_PI, HALF_PI, 0.0)
JOINT_ORIGINS = {
    "index": (((-0.0070952, 0.0230578, -0.0187224), _MCP_RPY), _ABD_ORIGIN, _PIP_ORIGIN, _DIP_ORIGIN),
    "middle": (((-0.0070952, -0.0223922, -0.0187224), _MCP_RPY), _ABD_ORIGIN, _PIP_ORIGIN, _DIP_ORIGIN),
    "ring": (
        ((-0.0070952, -0.0678422, -0.0187224), _MCP_RPY),
        _ABD_ORIGIN,
        _PIP_ORIGIN,
        ((0.0, -0.03609, 0.0002), (0.0, 0.0, 0.0)),
    ),
    "thumb": (
        ((-0.0693952, -0.0012422, -0.0216224), (0.0, HALF_PI, 0.0)),
        ((0.0, 0.0143, -0.013), (HALF_PI, -HALF_PI, 0.0)),
        ((0.0, 0.0145, -0.017), (-HALF_PI, 0.0, 0.0)),
        ((0.0, 0.0466, 0.0002), (0.0, 0.0, np.pi)),
    ),
}
# Published joint index (within a finger) of each link's joint, parent to child: in the fingers the
# MCP flexion joint (published 2nd) is the parent of the MCP abduction joint (published 1st).
TREE_ORDER = {"index": (1, 0, 2, 3), "middle": (1, 0, 2, 3), "ring": (1, 0, 2, 3), "thumb": (0, 1, 2, 3)}
# Fingertip point and distal pad (capsule segment along the finger) in the distal link frame.
TIP_POINT = {
    "index": (0.0, -0.048, 0.015),
    "middle": (0.0, -0.048, 0.015),
    "ring": (0.0, -0.048, 0.015),
    "thumb": (0.0, -0.06, -0.015),
}
PAD_START_Y = {"index": -0.024, "middle": -0.024, "ring": -0.024, "thumb": -0.036}


def leap_hand_links(prefix: str = "") -> dict[str, list[str]]:
    """Link bodies of the LEAP hand grouped by finger, the palm as its own group (for penetration tests)."""
    links = {"palm": [prefix + LEAP_PALM_BODY]}
    for finger in FINGERS:
        chain = THUMB_LINKS if finger == "thumb" else FINGER_LINKS
        links[finger] = [f"{prefix}{finger}_{link.suffix}" for link in chain]
    return links


def rpy_quat(rpy) -> np.ndarray:
    """URDF roll-pitch-yaw (fixed axes x, y, z) as a MuJoCo quaternion."""
    quat = np.zeros(4)
    mujoco.mju_euler2Quat(quat, np.asarray(rpy, dtype=float), "XYZ")
    return quat


def _add_link_body(parent: mujoco.MjsBody, name: str, link: Link, pos, quat) -> mujoco.MjsBody:
    body = parent.add_body(
        name=name,
        pos=pos,
        quat=quat,
        mass=link.mass,
        ipos=link.com,
        iquat=link.iquat,
        inertia=link.inertia,
        explicitinertial=True,
    )
    for centre, half in link.boxes:
        body.add_geom(
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=centre,
            size=half,
            contype=1,
            conaffinity=0,
            condim=3,
            group=0,
            rgba=LINK_RGBA,
        )
    return body


def _add_finger(palm: mujoco.MjsBody, finger: str, prefix: str) -> None:
    links = THUMB_LINKS if finger == "thumb" else FINGER_LINKS
    first = 4 * FINGERS.index(finger)
    # Joint ranges are given in the unit the parent spec's compiler expects.
    angle_unit = 180 / np.pi if palm.compiler.degree else 1.0
    body = palm
    for link, (xyz, rpy), k in zip(links, JOINT_ORIGINS[finger], TREE_ORDER[finger]):
        body = _add_link_body(body, f"{prefix}{finger}_{link.suffix}", link, xyz, rpy_quat(rpy))
        body.add_joint(
            name=prefix + LEAP_JOINT_NAMES[first + k],
            axis=JOINT_AXIS,
            range=angle_unit * LEAP_JOINT_LIMITS[first + k],
            armature=ARMATURE,
        )
    tip = np.array(TIP_POINT[finger])
    pad_start = (tip[0], PAD_START_Y[finger], tip[2])
    pad_end = tip + np.array([0.0, PAD_RADIUS, 0.0])  # hemispherical end touches the tip point
    body.add_geom(
        name=f"{prefix}{finger}_pad",
        type=mujoco.mjtGeom.mjGEOM_CAPSULE,
        fromto=(*pad_start, *pad_end),
        size=(PAD_RADIUS, 0, 0),
        contype=1,
        conaffinity=0,
        condim=4,
        friction=PAD_FRICTION,
        group=0,
        rgba=PAD_RGBA,
    )
    body.add_site(name=f"{prefix}{finger}_tip", pos=tip, size=(0.004, 0, 0))


def add_leap_hand(parent: mujoco.MjsBody, prefix: str = "") -> None:
    """Add the hand's bodies, joints, geoms and sites under `parent`, back of the palm on its origin.

    An MjsBody does not expose its spec, so the servos are added by `add_leap_actuators`.
    """
    palm = _add_link_body(parent, prefix + LEAP_PALM_BODY, PALM, MOUNT_POS, MOUNT_QUAT)
    palm.add_site(name=prefix + "palm", pos=(*PALM_CENTRE_XY, PALM_SURFACE_Z), quat=PALM_SITE_QUAT, size=(0.005, 0, 0))
    for finger in FINGERS:
        _add_finger(palm, finger, prefix)


def add_leap_actuators(spec: mujoco.MjSpec, prefix: str = "") -> None:
    """Add one position servo per hand joint, in LEAP_JOINT_NAMES order (actuator name == joint name)."""
    for name, (lo, hi) in zip(LEAP_JOINT_NAMES, LEAP_JOINT_LIMITS):
        act = spec.add_actuator(
            name=prefix + name,
            target=prefix + name,
            trntype=mujoco.mjtTrn.mjTRN_JOINT,
            ctrlrange=(lo, hi),
            ctrllimited=mujoco.mjtLimited.mjLIMITED_TRUE,
            forcerange=(-EFFORT, EFFORT),
            forcelimited=mujoco.mjtLimited.mjLIMITED_TRUE,
        )
        act.set_to_position(kp=KP, kv=KV)


def leap_hand_spec() -> mujoco.MjSpec:
    """Standalone hand with its 16 servos, palm welded to the world facing +z."""
    spec = mujoco.MjSpec()
    spec.modelname = "leap_hand_right"
    spec.compiler.degree = False
    set_physics_options(spec, TIMESTEP)
    add_leap_hand(spec.worldbody)
    add_leap_actuators(spec)
    return spec


def build_leap_hand(spec: mujoco.MjSpec, parent: mujoco.MjsBody) -> None:
    add_leap_hand(parent)
    add_leap_actuators(spec)


# Closing synergies of scripted grasps (rad, joint order) and the fingertips (index, middle, ring, thumb) that
# close onto the object in each.
SYNERGIES = {
    "wrap": (0.0, 1.3, 1.0, 0.8, 0.0, 1.3, 1.0, 0.8, 0.0, 1.3, 1.0, 0.8, 1.4, 0.6, 0.5, 0.5),
    "claw": (0.0, 0.8, 1.1, 1.0, 0.0, 0.8, 1.1, 1.0, 0.0, 0.8, 1.1, 1.0, 1.4, 0.4, 0.6, 0.6),
    "pinch": (0.4, 0.6, 1.1, 0.6, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.4, 0.0, 1.0, 0.0),
    "tripod": (0.1, 1.0, 0.9, 0.6, -0.1, 1.0, 0.9, 0.6, 0.0, 0.0, 0.0, 0.0, 1.5, 0.4, 0.6, 0.6),
}
ACTIVE_FINGERS = {"wrap": (1, 1, 1, 1), "claw": (1, 1, 1, 1), "pinch": (1, 0, 0, 1), "tripod": (1, 1, 0, 1)}

LEAP_HAND = Hand(
    name="leap",
    joint_names=LEAP_JOINT_NAMES,
    joint_limits=LEAP_JOINT_LIMITS,
    kp=KP,
    kd=KV,
    effort=EFFORT,
    fingertip_sites=LEAP_FINGERTIP_SITES,
    fingertip_bodies=LEAP_FINGERTIP_BODIES,
    thumb=3,
    palm_body=LEAP_PALM_BODY,
    palm_site="palm",
    payload_bodies=(LEAP_PALM_BODY,),
    link_groups={group: tuple(bodies) for group, bodies in leap_hand_links().items()},
    overlap_exclude=(),
    link_friction=1.0,
    finger_of_joint=tuple(k // 4 for k in range(16)),
    flex_joints=(1, 5, 9, 14),  # MCP flexion of index, middle, ring; thumb MCP
    synergies=SYNERGIES,
    active_fingers=ACTIVE_FINGERS,
    grasp_scale=1.0,
    build=build_leap_hand,
)


if __name__ == "__main__":
    with open(sys.argv[1], "w") as f:
        f.write(leap_hand_spec().to_xml())

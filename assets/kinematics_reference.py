"""Published robot kinematics as plain data, with an independent numpy forward kinematics.

Used only by tests/test_kinematics.py to check the MjSpec-generated models.

Sources:
- LEAP hand joints: leap-hand/LEAP_Hand_Sim, assets/leap_hand/robot.urdf (joint origin xyz/rpy,
  axis, limits; joint names "0".."15").
- LEAP fingertip points: dexsuite/dex-urdf, robots/hands/leap_hand/leap_hand_right.urdf
  (fixed joints index_tip/middle_tip/ring_tip/thumb_tip -> *_tip_head links).
- LEAP servo gains: leap-hand/LEAP_Hand_Sim, leapsim/cfg/task/LeapHandRot.yaml (pgain 3, dgain 0.1).
- Franka Panda: Craig (modified) DH parameters and joint limits from the Franka Control Interface
  documentation (frankaemika.github.io/docs/control_parameters.html); servo gains from
  google-deepmind/mujoco_menagerie, franka_emika_panda/panda_nohand.xml.
"""

import numpy as np

HALF_PI = np.pi / 2

# --- LEAP hand (right), URDF joints: (urdf name, origin xyz, origin rpy, lower, upper); axis (0, 0, -1).
# Each finger chain is listed parent-to-child (MCP flexion is the parent of MCP abduction).
LEAP_AXIS = np.array([0.0, 0.0, -1.0])
_MCP_ABD = ((-0.0122, 0.0381, 0.0145), (-HALF_PI, 0.0, HALF_PI), -1.047, 1.047)
_PIP = ((0.015, 0.0143, -0.013), (HALF_PI, -HALF_PI, 0.0), -0.506, 1.885)
_DIP = ((0.0, -0.0361, 0.0002), (0.0, 0.0, 0.0), -0.366, 2.042)
_MCP_FLEX_RPY = (HALF_PI, HALF_PI, 0.0)
_MCP_FLEX_RANGE = (-0.314, 2.23)
LEAP_CHAINS: dict[str, list[tuple]] = {
    "index": [
        ("1", (-0.0070952496528625, 0.0230577561348995, -0.0187224035784602), _MCP_FLEX_RPY, *_MCP_FLEX_RANGE),
        ("0", *_MCP_ABD),
        ("2", *_PIP),
        ("3", *_DIP),
    ],
    "middle": [
        ("5", (-0.0070952496528625, -0.0223922438651005, -0.0187224035784602), _MCP_FLEX_RPY, *_MCP_FLEX_RANGE),
        ("4", *_MCP_ABD),
        ("6", *_PIP),
        ("7", *_DIP),
    ],
    "ring": [
        ("9", (-0.0070952454426398, -0.0678422438651005, -0.0187224076664029), _MCP_FLEX_RPY, *_MCP_FLEX_RANGE),
        ("8", *_MCP_ABD),
        ("10", *_PIP),
        ("11", (0.0, -0.03609, 0.0002), (0.0, 0.0, 0.0), -0.366, 2.042),
    ],
    "thumb": [
        ("12", (-0.0693952496528625, -0.0012422438651005, -0.0216224035784602), (0.0, HALF_PI, 0.0), -0.349, 2.094),
        ("13", (0.0, 0.0143, -0.013), (HALF_PI, -HALF_PI, 0.0), -0.47, 2.443),
        ("14", (0.0, 0.0145, -0.017), (-HALF_PI, 0.0, 0.0), -1.20, 1.90),
        ("15", (0.0, 0.0466, 0.0002), (0.0, 0.0, np.pi), -1.34, 1.88),
    ],
}
# Fingertip point in the distal link frame.
LEAP_TIP_OFFSETS = {
    "index": (0.0, -0.048, 0.015),
    "middle": (0.0, -0.048, 0.015),
    "ring": (0.0, -0.048, 0.015),
    "thumb": (0.0, -0.06, -0.015),
}
LEAP_KP, LEAP_KV = 3.0, 0.1

# --- Franka Panda, modified DH rows (a_{i-1}, d_i, alpha_{i-1}); the last row is the flange.
PANDA_DH = [
    (0.0, 0.333, 0.0),
    (0.0, 0.0, -HALF_PI),
    (0.0, 0.316, HALF_PI),
    (0.0825, 0.0, HALF_PI),
    (-0.0825, 0.384, -HALF_PI),
    (0.0, 0.0, HALF_PI),
    (0.088, 0.0, HALF_PI),
    (0.0, 0.107, 0.0),
]
PANDA_LIMITS = np.array(
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
PANDA_KP = (4500.0, 4500.0, 3500.0, 3500.0, 2000.0, 2000.0, 2000.0)
PANDA_KV = tuple(kp / 10 for kp in PANDA_KP)


def _rot(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    m = np.eye(3)
    m[i, i], m[i, j], m[j, i], m[j, j] = c, -s, s, c
    return m


def _transform(rot: np.ndarray, pos) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rot, pos
    return t


def urdf_origin(xyz, rpy) -> np.ndarray:
    """URDF <origin>: fixed-axis roll-pitch-yaw, R = Rz(yaw) Ry(pitch) Rx(roll)."""
    return _transform(_rot(2, rpy[2]) @ _rot(1, rpy[1]) @ _rot(0, rpy[0]), xyz)


def axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues rotation about a unit axis."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return _transform(np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k, np.zeros(3))


def leap_fingertip(finger: str, q_by_urdf_name: dict[str, float]) -> np.ndarray:
    """Fingertip position in the palm (URDF palm_lower) frame."""
    t = np.eye(4)
    for name, xyz, rpy, *_ in LEAP_CHAINS[finger]:
        t = t @ urdf_origin(xyz, rpy) @ axis_angle(LEAP_AXIS, q_by_urdf_name[name])
    return (t @ np.r_[LEAP_TIP_OFFSETS[finger], 1.0])[:3]


def leap_limits_by_urdf_name() -> dict[str, tuple[float, float]]:
    return {row[0]: (row[3], row[4]) for chain in LEAP_CHAINS.values() for row in chain}


def panda_flange(q) -> np.ndarray:
    """Flange pose in the base frame: T_i = RotX(alpha) TransX(a) RotZ(q_i) TransZ(d)."""
    t = np.eye(4)
    for (a, d, alpha), qi in zip(PANDA_DH, list(q) + [0.0]):
        t = (
            t
            @ _transform(_rot(0, alpha), (a, 0.0, 0.0))
            @ _transform(_rot(2, qi), (0.0, 0.0, 0.0))
            @ _transform(np.eye(3), (0.0, 0.0, d))
        )
    return t

"""ORCA hand v2 (right), generated with ``mujoco.MjSpec`` from its published kinematics.

Published sources (numbers only; no XML, URDF or mesh is copied):
  * joint table (origin xyz / rpy, axis, sign):  orcahand/orca_core
    ``orca_core/kinematics/data/v2_kinematics.yaml`` (``right``; extracted by the ORCA
    authors from the orcahand_description v2 right URDF).
  * joint names, order and ranges (deg):  orcahand/orca_core
    ``orca_core/models/v2/orcahand-right/config.yaml`` (``joint_ids``, ``joint_roms``).
  * servo / joint dynamics:  orcahand/orcahand_description ``v2/models/assets/options.xml``
    (position kp=2.0, forcerange +-1, joint damping 0.1, armature 0.001, frictionloss 0.001).
  * link masses:  orcahand/orcahand_description ``v2/models/urdf/orcahand_right.urdf``.
  * link extents and fingertip points: measured (bounding extents) from the published meshes
    orcahand/orcahand_description ``v2/models/assets/right/*.stl``; approximated by primitives.

Joint angles follow the orca_core convention (``angle * sign`` about the URDF axis), so sim
joint angles equal the real hand's joint angles; positive abduction moves a finger toward the
pinky.  Finger link frames: z along the finger, -x is the palmar (flexion) side.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import mujoco
import numpy as np

from assets.hands import Hand, fixed_hand_spec

# ----------------------------------------------------------------------------- joint table
# (name, parent-to-joint origin xyz [m], rpy [rad], axis, orca_core sign)
# Source: orcahand/orca_core orca_core/kinematics/data/v2_kinematics.yaml, "right".
Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class JointRow:
    name: str
    xyz: Vec3
    rpy: Vec3
    axis: Vec3
    sign: int = 1


HALF_PI = 1.570796327
# Fixed base (forearm structure) -> top tower frame, then the wrist joint.
BASE_TO_TOWER = JointRow("tower", (-0.01, 0.0523, 0.0), (-HALF_PI, HALF_PI, 0.0), (0, 0, 0))
WRIST = JointRow("wrist", (0.0, 0.0, 0.04), (0.0, 0.0, -HALF_PI), (-1.0, 0.0, 0.0))
FINGER_ROWS: dict[str, tuple[JointRow, ...]] = {
    "thumb": (
        JointRow(
            "thumb_cmc",
            (-0.028398719, 0.010997181, 0.030589533),
            (0.66149514, 0.386056856, -1.432867705),
            (0.0, 0.0, -1.0),
        ),
        JointRow("thumb_abd", (-0.008, 0.0, -0.00385), (-1.221730476, 0.0, 0.0), (0.0, 0.342020143, 0.939692621)),
        JointRow("thumb_mcp", (-0.028, 0.0, 0.0), (-3.141592654, HALF_PI, 0.0), (0.0, -1.0, 0.0)),
        JointRow("thumb_dip", (0.001, 0.0, 0.032), (0.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ),
    "index": (
        JointRow(
            "index_abd",
            (-0.027240979, -0.002206967, 0.069406803),
            (1.653856814, 1.387349649, -0.004274219),
            (0.0, 0.0, 1.0),
            -1,
        ),
        JointRow("index_mcp", (-0.019150968, 0.0, -0.001), (0.0, -HALF_PI, 0.0), (0.0, -1.0, 0.0)),
        JointRow("index_pip", (0.0015, 0.0, 0.037), (0.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ),
    "middle": (
        JointRow(
            "middle_abd", (-0.005706334, -0.004023404, 0.078501893), (HALF_PI, 1.568178333, 0.0), (0.0, 0.0, 1.0), -1
        ),
        JointRow("middle_mcp", (-0.019866968, 0.0, -0.001), (0.0, -HALF_PI, 0.0), (0.0, -1.0, 0.0)),
        JointRow("middle_pip", (0.002, 0.0, 0.04), (0.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ),
    "ring": (
        JointRow(
            "ring_abd",
            (0.015307722, -0.003218365, 0.071304797),
            (-HALF_PI, 1.425061334, -3.054326191),
            (0.0, 0.0, 1.0),
            -1,
        ),
        JointRow("ring_mcp", (-0.019866968, 0.0, -0.001), (0.0, -HALF_PI, 0.0), (0.0, -1.0, 0.0)),
        JointRow("ring_pip", (0.002, 0.0, 0.04), (0.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ),
    "pinky": (
        JointRow(
            "pinky_abd",
            (0.035641716, 0.000689159, 0.062054242),
            (-1.529473574, 1.202862211, -2.911989536),
            (0.0, 0.0, 1.0),
            -1,
        ),
        JointRow("pinky_mcp", (-0.01775, 0.0, -0.001), (0.0, -HALF_PI, 0.0), (0.0, -1.0, 0.0)),
        JointRow("pinky_pip", (0.001, 0.0, 0.031), (0.0, 0.0, 0.0), (0.0, -1.0, 0.0)),
    ),
}
FINGERS = ("thumb", "index", "middle", "ring", "pinky")

# Published order: orca_core/models/v2/orcahand-right/config.yaml ``joint_ids``.
ORCA_JOINT_NAMES: tuple[str, ...] = (
    "wrist",
    "thumb_cmc",
    "thumb_abd",
    "thumb_mcp",
    "thumb_dip",
    "index_abd",
    "index_mcp",
    "index_pip",
    "middle_abd",
    "middle_mcp",
    "middle_pip",
    "ring_abd",
    "ring_mcp",
    "ring_pip",
    "pinky_abd",
    "pinky_mcp",
    "pinky_pip",
)
# Ranges in degrees, orca_core convention: config.yaml ``joint_roms`` (these equal the
# orcahand_description v2 MJCF/URDF ranges, with abduction negated by the table's sign).
_ROMS_DEG = {
    "wrist": (-65, 35),
    "thumb_cmc": (-45, 33),
    "thumb_abd": (-18, 55),
    "thumb_mcp": (-25, 100),
    "thumb_dip": (-15, 107),
    "index_abd": (-30, 25),
    "middle_abd": (-27, 27),
    "ring_abd": (-27, 27),
    "pinky_abd": (-30, 30),
    **{f"{f}_mcp": (-25, 100) for f in FINGERS[1:]},
    **{f"{f}_pip": (-15, 107) for f in FINGERS[1:]},
}
ORCA_JOINT_LIMITS: np.ndarray = np.deg2rad([_ROMS_DEG[n] for n in ORCA_JOINT_NAMES])

# ----------------------------------------------------------------------------- dynamics
# orcahand_description v2/models/assets/options.xml (the published MuJoCo model).  These are
# simulation values (effective current-based position control of the Dynamixel servos), so
# they are used as is: at dt=1/120 the armature dominates the finger inertia
# (sqrt(kp/armature)*dt ~ 0.4) and damping 0.1 is ~critical, so implicitfast is stable.
ORCA_KP = 2.0  # N m / rad
ORCA_FORCE_LIMIT = 1.0  # N m
ORCA_DAMPING = 0.1  # N m s / rad
ORCA_ARMATURE = 0.001  # kg m^2
ORCA_FRICTIONLOSS = 0.001  # N m
TIMESTEP = 1.0 / 120.0

# ----------------------------------------------------------------------------- geometry
FRICTION = (1.0, 0.005, 0.001)  # published default geom friction
FINGERTIP_CONDIM = 4
ORCA_FINGERTIP_SITES = ("thumb_tip", "index_tip", "middle_tip", "ring_tip", "pinky_tip")
ORCA_FINGERTIP_BODIES = tuple(f"{f}_distal" for f in FINGERS)
PALM_SITE = "palm"
PALM_HEIGHT = 0.30  # m, palm centre above the world origin in orca_hand_spec()
SKIN_RGBA = (0.92, 0.92, 0.92, 1.0)
BONE_RGBA = (0.16, 0.16, 0.16, 1.0)


@dataclass(frozen=True)
class Capsule:
    a: Vec3
    b: Vec3
    radius: float


@dataclass(frozen=True)
class LinkShape:
    """Collision primitives of one link (in the link = joint frame) and its mass [kg]."""

    mass: float
    capsules: tuple[Capsule, ...] = ()
    tip: tuple[Vec3, float] | None = None  # fingertip sphere (centre, radius); site at centre
    boxes: tuple[tuple[Vec3, Vec3], ...] = ()  # (centre, half sizes)


# Masses: orcahand_description v2 URDF; extents: v2 right meshes (mm bounding extents).
LINKS: dict[str, tuple[LinkShape, ...]] = {
    "thumb": (
        LinkShape(0.00798, boxes=(((-0.0038, -0.0013, 0.0), (0.0128, 0.0123, 0.0195)),)),
        LinkShape(0.00700, capsules=(Capsule((-0.028, 0, 0), (0.0, 0, 0), 0.0095),)),
        LinkShape(0.01049, capsules=(Capsule((0.0008, 0, 0), (0.0008, 0, 0.032), 0.0095),)),
        LinkShape(
            0.00816, capsules=(Capsule((0.001, 0, 0), (0.0, 0, 0.012), 0.0095),), tip=((0.0, 0.0, 0.022), 0.0085)
        ),
    ),
    "index": (
        LinkShape(0.00459, capsules=(Capsule((-0.01915, 0, -0.001), (0.0, 0, 0), 0.009),)),
        LinkShape(0.01137, capsules=(Capsule((0.001, 0, 0), (0.001, 0, 0.037), 0.009),)),
        LinkShape(
            0.04675, capsules=(Capsule((0.001, 0, 0), (-0.003, 0, 0.028), 0.0088),), tip=((-0.0065, 0.0, 0.0385), 0.007)
        ),
    ),
    "middle": (
        LinkShape(0.00492, capsules=(Capsule((-0.019867, 0, -0.001), (0.0, 0, 0), 0.0095),)),
        LinkShape(0.01273, capsules=(Capsule((0.001, 0, 0), (0.001, 0, 0.040), 0.0095),)),
        LinkShape(
            0.04674, capsules=(Capsule((0.001, 0, 0), (-0.003, 0, 0.028), 0.0088),), tip=((-0.0065, 0.0, 0.0385), 0.007)
        ),
    ),
    "ring": (
        LinkShape(0.00492, capsules=(Capsule((-0.019867, 0, -0.001), (0.0, 0, 0), 0.0095),)),
        LinkShape(0.01273, capsules=(Capsule((0.001, 0, 0), (0.001, 0, 0.040), 0.0095),)),
        LinkShape(
            0.04674, capsules=(Capsule((0.001, 0, 0), (-0.003, 0, 0.028), 0.0088),), tip=((-0.0065, 0.0, 0.0385), 0.007)
        ),
    ),
    "pinky": (
        LinkShape(0.00414, capsules=(Capsule((-0.01775, 0, -0.001), (0.0, 0, 0), 0.0085),)),
        LinkShape(0.00812, capsules=(Capsule((0.001, 0, 0), (0.001, 0, 0.031), 0.0085),)),
        LinkShape(
            0.03319,
            capsules=(Capsule((0.0005, 0, 0), (-0.004, 0, 0.022), 0.0085),),
            tip=((-0.007, 0.0, 0.0317), 0.0066),
        ),
    ),
}
LINK_ROLES = {"thumb": ("cmc", "abd", "proximal", "distal")}
FINGER_ROLES = ("abd", "proximal", "distal")

# Palm (carpals) in the wrist-joint frame: skin mesh extents; mass from the URDF.
PALM_MASS = 0.1354
PALM_BOX = ((0.0039, 0.0112, 0.0457), (0.036, 0.0087, 0.037))
# Base: forearm structure (motor tower) and top tower, extents from their meshes.  The URDF
# forearm mass (7.4 kg) is not physical; 0.6 kg (17 servos + frame) is a guess.
FOREARM_MASS = 0.6
FOREARM_BOX = ((-0.01, -0.00285, 0.0), (0.0465, 0.05515, 0.048))
TOWER_MASS = 0.1857
TOWER_BOX = ((0.0, 0.0, 0.02), (0.045, 0.045, 0.02))


# ----------------------------------------------------------------------------- helpers
def rpy_to_mat(rpy: Vec3) -> np.ndarray:
    """URDF roll-pitch-yaw (extrinsic XYZ): R = Rz(yaw) Ry(pitch) Rx(roll)."""
    r, p, y = rpy
    cr, sr, cp, sp, cy, sy = np.cos(r), np.sin(r), np.cos(p), np.sin(p), np.cos(y), np.sin(y)
    return np.array(
        [
            [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
            [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
            [-sp, cp * sr, cp * cr],
        ]
    )


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, np.asarray(mat, dtype=float).reshape(9))
    return quat


def _add_body(parent: mujoco.MjsBody, name: str, row: JointRow) -> mujoco.MjsBody:
    return parent.add_body(name=name, pos=list(row.xyz), quat=list(mat_to_quat(rpy_to_mat(row.rpy))))


def _geom_kwargs(rgba: tuple[float, ...], mass: float) -> dict:
    # Robot geoms: contype 1 / conaffinity 0 -> no self-collision, touch objects with conaffinity 1.
    return dict(contype=1, conaffinity=0, condim=3, friction=list(FRICTION), rgba=list(rgba), mass=mass)


def _add_box(body: mujoco.MjsBody, centre: Vec3, half: Vec3, mass: float, rgba=BONE_RGBA) -> None:
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, pos=list(centre), size=list(half), **_geom_kwargs(rgba, mass))


def palm_site_frame() -> tuple[np.ndarray, np.ndarray]:
    """Palm site (position, rotation) in the palm (wrist-joint) frame: centre of the palmar
    face of the palm plate; x toward the fingers (+z of the palm frame), z out of the palm (+y
    of the palm frame, the side the fingers flex to), as every hand's palm site (assets/hands.py)."""
    (cx, cy, cz), (_, hy, _) = PALM_BOX
    rot = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])  # columns = site axes
    return np.array([cx, cy + hy, cz]), rot


# ----------------------------------------------------------------------------- builders
class _HandBuilder:
    """Adds the hand under ``parent`` and its servos to ``spec``, names prefixed."""

    def __init__(self, spec: mujoco.MjSpec, prefix: str) -> None:
        self.spec, self.prefix = spec, prefix
        # Joint ranges follow the spec's angle unit; ctrlrange is always radians.
        self.range_scale = 180.0 / np.pi if spec.compiler.degree else 1.0

    def joint(self, body: mujoco.MjsBody, row: JointRow) -> None:
        lo, hi = ORCA_JOINT_LIMITS[ORCA_JOINT_NAMES.index(row.name)]
        body.add_joint(
            name=self.prefix + row.name,
            type=mujoco.mjtJoint.mjJNT_HINGE,
            axis=[row.sign * a for a in row.axis],
            range=[lo * self.range_scale, hi * self.range_scale],
            damping=ORCA_DAMPING,
            armature=ORCA_ARMATURE,
            frictionloss=ORCA_FRICTIONLOSS,
        )

    def link_geoms(self, body: mujoco.MjsBody, finger: str, shape: LinkShape) -> None:
        m = shape.mass / (len(shape.capsules) + len(shape.boxes) + (shape.tip is not None))
        for cap in shape.capsules:
            body.add_geom(
                type=mujoco.mjtGeom.mjGEOM_CAPSULE,
                fromto=[*cap.a, *cap.b],
                size=[cap.radius, 0, 0],
                **_geom_kwargs(BONE_RGBA, m),
            )
        for centre, half in shape.boxes:
            _add_box(body, centre, half, m)
        if shape.tip is not None:
            centre, radius = shape.tip
            body.add_geom(
                name=f"{self.prefix}{finger}_tip_geom",
                type=mujoco.mjtGeom.mjGEOM_SPHERE,
                pos=list(centre),
                size=[radius, 0, 0],
                **(_geom_kwargs(SKIN_RGBA, m) | dict(condim=FINGERTIP_CONDIM)),
            )
            body.add_site(
                name=f"{self.prefix}{finger}_tip", pos=list(centre), size=[0.003, 0, 0], rgba=[1, 0.2, 0.2, 1]
            )

    def build(self, parent: mujoco.MjsBody) -> None:
        pre = self.prefix
        base = parent.add_body(name=pre + "base")
        _add_box(base, *FOREARM_BOX, FOREARM_MASS)
        tower = _add_body(base, pre + "tower", BASE_TO_TOWER)
        _add_box(tower, *TOWER_BOX, TOWER_MASS)
        palm = _add_body(tower, pre + "palm", WRIST)
        self.joint(palm, WRIST)
        _add_box(palm, *PALM_BOX, PALM_MASS)
        site_pos, site_rot = palm_site_frame()
        palm.add_site(
            name=pre + PALM_SITE,
            pos=list(site_pos),
            quat=list(mat_to_quat(site_rot)),
            size=[0.004, 0, 0],
            rgba=[0.2, 0.2, 1, 1],
        )
        for finger in FINGERS:
            body = palm
            roles = LINK_ROLES.get(finger, FINGER_ROLES)
            for row, role, shape in zip(FINGER_ROWS[finger], roles, LINKS[finger], strict=True):
                body = _add_body(body, f"{pre}{finger}_{role}", row)
                self.joint(body, row)
                self.link_geoms(body, finger, shape)
        # One position servo per joint, named like the joint, in the published order.
        for name, (lo, hi) in zip(ORCA_JOINT_NAMES, ORCA_JOINT_LIMITS, strict=True):
            act = self.spec.add_actuator(name=pre + name, target=pre + name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
            act.set_to_position(kp=ORCA_KP)
            act.ctrlrange = [lo, hi]
            act.forcerange = [-ORCA_FORCE_LIMIT, ORCA_FORCE_LIMIT]
            act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE


def add_orca_hand(parent: mujoco.MjsBody, prefix: str = "", spec: mujoco.MjSpec | None = None) -> None:
    """Add the right ORCA v2 hand (forearm base, wrist, 16 finger joints, 17 position servos)
    under ``parent``; the hand's base frame (the published forearm frame) is ``parent``'s frame.
    Every body, joint, geom, site and actuator name gets ``prefix``.

    With ``spec`` (the spec owning ``parent``) the hand is built in place.  Without it, it is
    built in its own spec and attached (an MjsBody does not expose its spec); MuJoCo then
    warns at compile time if ``prefix`` is empty, which is harmless here."""
    if spec is not None:
        _HandBuilder(spec, prefix).build(parent)
        return
    hand = mujoco.MjSpec()
    hand.compiler.degree = False  # the child's compiler settings apply to attached elements
    _HandBuilder(hand, "").build(hand.worldbody)
    parent.add_frame().attach_body(hand.body("base"), prefix, "")


def orca_hand_spec(palm_down: bool = True) -> mujoco.MjSpec:
    """Standalone hand fixed in the world: palm site at (0, 0, PALM_HEIGHT) with the wrist at
    0, fingers along +x, palm normal -z (palm down; a cube is held below) or +z.
    implicitfast integrator, dt = 1/120 s."""
    spec = fixed_hand_spec(ORCA_HAND, PALM_HEIGHT, palm_down, TIMESTEP)
    spec.modelname = "orca_hand_v2_right"
    return spec


def build_orca_hand(spec: mujoco.MjSpec, parent: mujoco.MjsBody) -> None:
    add_orca_hand(parent, spec=spec)


# Closing synergies of scripted grasps (rad, joint order: wrist, thumb cmc, abd, mcp, dip, then abd, mcp, pip
# of index, middle, ring, pinky) and the fingertips (thumb, index, middle, ring, pinky) that close in each.
# Fitted in free air (palm up, joints on a grid) so that each fingertip closes where the LEAP synergy of the same
# name puts the matching LEAP fingertip, scaled by grasp_scale, the pinky following the ring finger; then the
# fingers' part scaled by 0.8, where no finger passes through another or the palm while closing in free air.
SYNERGIES = {
    "wrap": (0.0, 0.46, -0.21, -0.07, 0.09, 0.0, 1.4, 0.5, 0.0, 1.4, 0.64, 0.0, 1.4, 0.57, 0.0, 1.4, 0.29),
    "claw": (0.0, 0.35, -0.1, 0.11, 0.45, 0.0, 1.32, 0.29, 0.0, 1.4, 0.36, 0.0, 1.32, 0.36, 0.0, 1.1, 0.22),
    "pinch": (0.0, 0.01, 0.11, 0.65, -0.08, 0.0, 1.32, -0.14, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    "tripod": (0.0, 0.58, -0.1, 0.11, -0.26, 0.0, 1.4, 0.0, 0.0, 1.4, 0.22, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
}
ACTIVE_FINGERS = {
    "wrap": (1, 1, 1, 1, 1),
    "claw": (1, 1, 1, 1, 1),
    "pinch": (1, 1, 0, 0, 0),
    "tripod": (1, 1, 1, 0, 0),
}

ORCA_HAND = Hand(
    name="orca",
    joint_names=ORCA_JOINT_NAMES,
    joint_limits=ORCA_JOINT_LIMITS,
    kp=ORCA_KP,
    kd=0.0,  # the published model damps its joints (ORCA_DAMPING), not its servos
    effort=ORCA_FORCE_LIMIT,
    fingertip_sites=ORCA_FINGERTIP_SITES,
    fingertip_bodies=ORCA_FINGERTIP_BODIES,
    thumb=0,
    palm_body="palm",
    palm_site=PALM_SITE,
    payload_bodies=("base", "tower", "palm"),
    link_groups={
        "palm": ("base", "tower", "palm"),
        **{f: tuple(f"{f}_{role}" for role in LINK_ROLES.get(f, FINGER_ROLES)) for f in FINGERS},
    },
    # the primitive palm box reaches into the thumb's and the outer fingers' first links at rest (9.6, 6.5 and
    # 1.7 mm), where the meshes meet at their joints
    overlap_exclude=(("palm", "thumb_abd"), ("palm", "pinky_proximal"), ("palm", "index_proximal")),
    link_friction=FRICTION[0],
    finger_of_joint=(-1, 0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4),
    flex_joints=(3, 6, 9, 12, 15),  # the MCP flexion of each finger
    synergies=SYNERGIES,
    active_fingers=ACTIVE_FINGERS,
    grasp_scale=0.73,  # palm site to straight middle fingertip: 13.1 cm against the LEAP hand's 18.0 cm
    build=build_orca_hand,
)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m assets.orca_hand OUTPUT.xml")
    hand = orca_hand_spec()
    hand.compile()
    with open(sys.argv[1], "w") as f:
        f.write(hand.to_xml())

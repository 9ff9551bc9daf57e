"""A scripted demonstrator that grasps like a teleoperator: the stand-in for human demonstrations.

It reads privileged state (object pose, shape, size, grasp family) and, per episode and environment,
plans a grasp from the object's geometry with one of two strategies of its family:

    power: "wrap"   palm over the object, all four fingers and the thumb close around it
           "claw"   hand pitched towards the robot, fingertips hook over the far side, thumb on the near side
    pinch: "pinch"  thumb against the index fingertip
           "tripod" thumb against the index and middle fingertips

Each strategy is a palm pose relative to the object's top (offsets along and across the fingers, height
above the top, yaw about the vertical and a pitch), a pre-shape and a closing synergy; every number is
drawn per episode from its range, so that no two demonstrations are alike. Synergies are the hand's
(assets/hands.py); the ranges were calibrated with the LEAP hand, and other hands scale their lengths by
`hand.grasp_scale`. The script moves the palm
above the grasp pose, descends, closes each finger until its tip touches the object or its servo is
blocked (a force threshold: the servo torque kp x lag), squeezes a little further, then lifts. A fingertip
blocked by the table is no touch: the palm rises while it is, so that the finger slides up the table top
to the object, as fingernails do under a flat one. When the
object slips out during the lift it opens, re-plans from where the object now lies and tries once more.

Fingers never close through each other: the closing synergy is checked in free air with the
penetration meter, and the thumb's part scaled down where it would pass through a finger by more than
`max_finger_overlap`. The script acts in the `abs_joint` action space; `command` gives the same action
in the demonstration format (arm delta in [-1, 1], absolute finger targets in rad).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mujoco
import numpy as np
import torch

from isaac_tasks.evaluation.penetration import PenetrationMeter
from isaac_tasks.grasp.scene import OBJECT_BODY, grasp_scene
from isaac_tasks.math import axis_angle_from_quat, quat_apply, quat_conjugate, quat_from_axis_angle, quat_mul

PALM_DOWN = (0.0, 1.0, 0.0, 0.0)  # palm site facing -z, fingers along +x (assets/hands.py)
FAMILY_STRATEGIES = {"power": ("wrap", "claw"), "pinch": ("pinch", "tripod")}
STRATEGIES = ("wrap", "claw", "pinch", "tripod")  # each hand's closing synergies and active fingers (assets/hands.py)
SCALED_RANGES = ("along", "across", "height", "depth")  # lengths, drawn for the LEAP hand: scaled by hand.grasp_scale
SHAPES = ("box", "cylinder", "capsule", "sphere", "ellipsoid")  # the task's shape codes, in order
# what the ranges are kept for: the shapes, and boxes lower than they are narrow (an eraser, not a dice)
SHAPE_CLASSES = (*SHAPES, "flat_box")


@dataclass(kw_only=True)
class StrategyRanges:
    """Palm pose of a strategy relative to the object's top centre, each drawn uniformly per episode.

    Offsets are in the hand's yaw frame (x along the fingers, y towards the thumb), in metres; `height` is
    the palm surface above the object's top; `pitch` tilts the fingers down (rad); `yaw` turns the hand
    about the vertical (rad, added to the object's yaw for boxes, free otherwise); `aperture` pre-shapes
    the fingers as a fraction of the synergy. Like a teleoperator who knows which grasp suits an object,
    the demonstrator picks a strategy with a chance proportional to its `weight` for the object's shape.
    """

    along: tuple[float, float]
    across: tuple[float, float]
    height: tuple[float, float]
    pitch: tuple[float, float]
    yaw: tuple[float, float]
    aperture: tuple[float, float] = (0.0, 0.25)
    depth: tuple[float, float] = (0.0, 0.0)  # m, palm surface at least this far above the object's centre
    weight: float = 1.0  # relative chance of this strategy among its family's for the shape


def _default_ranges() -> dict[str, StrategyRanges]:
    return {
        "wrap": StrategyRanges(
            along=(0.02, 0.05), across=(-0.02, 0.0), height=(0.0, 0.01), pitch=(0.05, 0.25), yaw=(-0.4, 0.4)
        ),
        "claw": StrategyRanges(
            along=(0.02, 0.04), across=(-0.01, 0.01), height=(0.0, 0.01), pitch=(0.2, 0.4), yaw=(-0.4, 0.4)
        ),
        # the thumb meets the index fingertip about 10 cm under the palm, 4.5 cm along and 3.5 cm to the thumb side
        "pinch": StrategyRanges(
            along=(0.035, 0.055),
            across=(-0.045, -0.025),
            height=(0.0, 0.01),
            pitch=(0.0, 0.1),
            yaw=(-0.4, 0.4),
            depth=(0.085, 0.1),
        ),
        "tripod": StrategyRanges(
            along=(0.025, 0.045),
            across=(-0.04, -0.02),
            height=(0.0, 0.01),
            pitch=(0.0, 0.15),
            yaw=(-0.4, 0.4),
            depth=(0.07, 0.085),
        ),
    }


# Ranges per strategy and object shape found by simulation, success of one try (no re-try) over 480 episodes:
#   power: tools/calibrate_grasps.py --family power --num_envs 480 --rounds 4 (search box 0.39 -> 0.80)
#   pinch: the same (0.09 -> 0.58), then with the opposing pinch synergy and pinches across boxes
#          --seed 2 --rounds 3 --from_defaults (0.70 -> 0.72)
# Weights: the squared success of one try per strategy and shape (--rounds 0 --seed 4 --num_envs 960
# --from_defaults; pinch: the mean success of --seed 4 and 5 at --num_envs 1440, with the palm rising off the table).
# Shapes without an entry use the strategy's general ranges above.
CALIBRATED_RANGES = {
    "pinch/box": StrategyRanges(
        along=(0.0438, 0.0518),
        across=(-0.0372, -0.0292),
        height=(0.0092, 0.0132),
        pitch=(0.0973, 0.1773),
        yaw=(-0.0087, 0.1513),
        aperture=(0.2089, 0.2689),
        depth=(0.0817, 0.0897),
        weight=0.593,
    ),
    "pinch/capsule": StrategyRanges(
        along=(0.0304, 0.0384),
        across=(-0.0423, -0.0343),
        height=(0.0069, 0.0109),
        pitch=(0.083, 0.163),
        yaw=(-0.0117, 0.1483),
        aperture=(0.2115, 0.2715),
        depth=(0.0756, 0.0836),
        weight=0.59,
    ),
    "pinch/cylinder": StrategyRanges(
        along=(0.0306, 0.0386),
        across=(-0.0435, -0.0355),
        height=(0.0066, 0.0106),
        pitch=(0.1076, 0.1876),
        yaw=(-0.0798, 0.0802),
        aperture=(0.1933, 0.2533),
        depth=(0.0795, 0.0875),
        weight=0.851,
    ),
    "pinch/sphere": StrategyRanges(
        along=(0.0379, 0.0459),
        across=(-0.0352, -0.0272),
        height=(0.0071, 0.0111),
        pitch=(0.112, 0.192),
        yaw=(0.2208, 0.3808),
        aperture=(0.168, 0.228),
        depth=(0.0807, 0.0887),
        weight=0.82,
    ),
    "tripod/box": StrategyRanges(
        along=(0.0438, 0.0518),
        across=(-0.0372, -0.0292),
        height=(0.0095, 0.0135),
        pitch=(0.0968, 0.1768),
        yaw=(0.0046, 0.1646),
        aperture=(0.2111, 0.2711),
        depth=(0.0813, 0.0893),
        weight=0.621,
    ),
    "tripod/capsule": StrategyRanges(
        along=(0.0306, 0.0386),
        across=(-0.0419, -0.0339),
        height=(0.0065, 0.0105),
        pitch=(0.0634, 0.1434),
        yaw=(-0.0151, 0.1449),
        aperture=(0.2054, 0.2654),
        depth=(0.0743, 0.0823),
        weight=0.621,
    ),
    "tripod/cylinder": StrategyRanges(
        along=(0.0303, 0.0383),
        across=(-0.0431, -0.0351),
        height=(0.0061, 0.0101),
        pitch=(0.1072, 0.1872),
        yaw=(-0.0701, 0.0899),
        aperture=(0.1844, 0.2444),
        depth=(0.0789, 0.0869),
        weight=0.86,
    ),
    "tripod/sphere": StrategyRanges(
        along=(0.0374, 0.0454),
        across=(-0.0346, -0.0266),
        height=(0.0077, 0.0117),
        pitch=(0.1092, 0.1892),
        yaw=(0.1948, 0.3548),
        aperture=(0.1724, 0.2324),
        depth=(0.0809, 0.0889),
        weight=0.74,
    ),
    "claw/box": StrategyRanges(
        along=(0.0036, 0.0157),
        across=(-0.0179, -0.0056),
        height=(0.0043, 0.0083),
        pitch=(0.2146, 0.3008),
        yaw=(-0.4067, -0.1853),
        aperture=(0.1701, 0.2301),
        depth=(0, 0),
        weight=0.451,
    ),
    "claw/capsule": StrategyRanges(
        along=(0.0195, 0.0275),
        across=(-0.0267, -0.0187),
        height=(-0.0006, 0.0034),
        pitch=(0.104, 0.184),
        yaw=(0.1244, 0.3032),
        aperture=(0.1797, 0.2397),
        depth=(0, 0),
        weight=0.852,
    ),
    "claw/cylinder": StrategyRanges(
        along=(0.0257, 0.0337),
        across=(-0.0187, -0.0107),
        height=(0.0072, 0.0112),
        pitch=(0.2002, 0.2817),
        yaw=(-0.1154, 0.0446),
        aperture=(0.1756, 0.2356),
        depth=(0, 0),
        weight=0.812,
    ),
    "claw/ellipsoid": StrategyRanges(
        along=(0.0286, 0.0373),
        across=(-0.0164, -0.0084),
        height=(0.0088, 0.014),
        pitch=(0.1458, 0.2258),
        yaw=(-0.1528, 0.0072),
        aperture=(0.1651, 0.2251),
        depth=(0, 0),
        weight=0.983,
    ),
    "claw/sphere": StrategyRanges(
        along=(0.0155, 0.0303),
        across=(-0.0182, -0.0098),
        height=(0.0028, 0.01),
        pitch=(0.0739, 0.1539),
        yaw=(-0.0907, 0.1584),
        aperture=(0.1403, 0.2003),
        depth=(0, 0),
        weight=1.0,
    ),
    "wrap/box": StrategyRanges(
        along=(0.0013, 0.0175),
        across=(-0.0156, -0.0053),
        height=(0.0046, 0.0086),
        pitch=(0.2041, 0.2878),
        yaw=(-0.4532, -0.2087),
        aperture=(0.16, 0.22),
        depth=(0, 0),
        weight=0.357,
    ),
    "wrap/capsule": StrategyRanges(
        along=(0.0172, 0.0257),
        across=(-0.0278, -0.0198),
        height=(-0.0013, 0.0029),
        pitch=(0.1119, 0.1919),
        yaw=(0.1473, 0.3073),
        aperture=(0.1724, 0.2458),
        depth=(0, 0),
        weight=0.859,
    ),
    "wrap/cylinder": StrategyRanges(
        along=(0.0252, 0.0332),
        across=(-0.017, -0.009),
        height=(0.0064, 0.0104),
        pitch=(0.1778, 0.2737),
        yaw=(-0.1146, 0.0694),
        aperture=(0.1645, 0.2245),
        depth=(0, 0),
        weight=0.862,
    ),
    "wrap/ellipsoid": StrategyRanges(
        along=(0.0293, 0.038),
        across=(-0.0177, -0.0097),
        height=(0.0094, 0.0147),
        pitch=(0.146, 0.226),
        yaw=(-0.1759, -0.0151),
        aperture=(0.1744, 0.2344),
        depth=(0, 0),
        weight=0.984,
    ),
    "wrap/sphere": StrategyRanges(
        along=(0.0249, 0.0342),
        across=(-0.0178, -0.009),
        height=(0.0049, 0.0105),
        pitch=(0.0794, 0.1594),
        yaw=(-0.0404, 0.2626),
        aperture=(0.1322, 0.1922),
        depth=(0, 0),
        weight=0.979,
    ),
}


@dataclass(kw_only=True)
class ScriptedGraspCfg:
    strategies: dict[str, StrategyRanges] = field(default_factory=lambda: {**_default_ranges(), **CALIBRATED_RANGES})
    approach_steps: tuple[int, int] = (25, 35)  # control steps to the pre-grasp pose
    descend_steps: tuple[int, int] = (10, 16)
    pregrasp_height: tuple[float, float] = (0.05, 0.09)  # m above the grasp pose
    close_rate: tuple[float, float] = (0.06, 0.1)  # synergy fraction per control step
    max_closure: float = 1.0  # synergy fraction at which a finger that met nothing stops
    squeeze: tuple[float, float] = (0.25, 0.4)  # rad past first contact, on the flexion joints
    contact_lag: float = 0.2  # rad of servo lag on a stalled flexion joint that counts as touching
    blocked_speed: float = 0.3  # rad/s below which a lagging flexion joint is stalled, not still moving
    tip_clearance: float = 0.003  # m: a fingertip lower than this over the table, stalled, is blocked by the table
    rise_speed: float = 0.004  # m per control step the palm rises while a fingertip is blocked by the table
    settle_steps: tuple[int, int] = (3, 6)  # steps between the squeeze and the lift
    lift_speed: float = 0.012  # m per control step
    lift_height: float = 0.3  # m above the grasp pose
    slip_distance: float = 0.05  # m the object may lag behind the palm while lifting before a re-try
    max_tries: int = 2
    max_finger_overlap: float = 0.004  # m, finger-finger penetration the finger targets may have in free air


# phases
APPROACH, DESCEND, CLOSE, SETTLE, LIFT, RELEASE = range(6)


class ScriptedGrasp:
    """Batched over every environment of the task; `reset(env_ids)` plans, `command()` acts."""

    def __init__(self, env, cfg: ScriptedGraspCfg, generator: torch.Generator):
        self.env, self.cfg, self.generator = env, cfg, generator
        n, device = env.num_envs, env.device
        self.device = device
        self.power = env.object_is_power
        self.sizes = env.object_properties[:, 1:4]  # MuJoCo primitive sizes
        self.shape = env.object_properties[:, 4].long()  # index into SHAPES
        self.is_box = self.shape == SHAPES.index("box")
        flat = self.is_box & (self.sizes[:, 2] < 0.9 * self.sizes[:, :2].min(dim=-1).values)
        self.shape_class = torch.where(flat, SHAPE_CLASSES.index("flat_box"), self.shape)  # index into SHAPE_CLASSES
        self.strategy = torch.zeros(n, dtype=torch.long, device=device)
        self.phase = torch.zeros(n, dtype=torch.long, device=device)
        self.phase_step = torch.zeros(n, dtype=torch.long, device=device)
        self.durations = torch.zeros(n, 3, dtype=torch.long, device=device)  # approach, descend, settle
        self.tries = torch.zeros(n, dtype=torch.long, device=device)
        self.planned = torch.zeros(n, dtype=torch.bool, device=device)  # planned for the episode now starting
        self.grasp_pos = torch.zeros(n, 3, device=device)  # palm site target at the grasp
        self.grasp_quat = torch.zeros(n, 4, device=device)
        self.pregrasp = torch.zeros(n, device=device)
        self.aperture = torch.zeros(n, device=device)
        self.close_rate = torch.zeros(n, device=device)
        self.squeeze = torch.zeros(n, device=device)
        hand = env.hand
        joints, tips = hand.num_joints, len(hand.fingertip_sites)
        self.synergy = torch.zeros(n, joints, device=device)
        self.active = torch.zeros(n, tips, dtype=torch.bool, device=device)
        self.closure = torch.zeros(n, tips, device=device)  # per finger, synergy fraction
        self.touched = torch.zeros(n, tips, dtype=torch.bool, device=device)
        self.backed_off = torch.zeros(
            n, dtype=torch.bool, device=device
        )  # targets stopped short of the fingers meeting
        self.extra = torch.zeros(n, tips, device=device)  # squeeze added so far, per finger (rad on the flexion)
        self.lift_z = torch.zeros(n, device=device)
        self.palm_object_gap = torch.zeros(n, device=device)  # palm z - object z when the lift starts
        self.fingers = torch.zeros(n, joints, device=device)
        self.plan = torch.zeros(n, 6, device=device)  # along, across, height, pitch, yaw offset, depth of the last plan
        scene = grasp_scene(hand, env.objects[0], env.cfg.sim_dt)
        self.meter = PenetrationMeter(scene, hand.link_groups, OBJECT_BODY, hand.overlap_exclude)
        model = self.meter.model
        ids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in hand.joint_names]
        self.finger_adr = model.jnt_qposadr[ids]
        # each joint's finger (a joint of no finger, as a wrist, has no synergy: reading finger 0 leaves it at 0)
        self.finger_of_joint = torch.tensor(hand.finger_of_joint).clamp(min=0)
        self.is_thumb = torch.tensor(hand.finger_of_joint) == hand.thumb
        self.flex_joints = list(hand.flex_joints)
        self.flex_mask = torch.zeros(joints, device=device)
        self.flex_mask[self.flex_joints] = 1.0
        self.num_arm_joints = len(env.physics.queries.joints) - joints
        synergies = [self._feasible_synergy(torch.tensor(hand.synergies[s], dtype=torch.float32)) for s in STRATEGIES]
        self._synergies = torch.stack(synergies).to(device)
        self._active = torch.tensor([hand.active_fingers[s] for s in STRATEGIES], dtype=torch.bool, device=device)
        self._pinch_strategies = torch.tensor([STRATEGIES.index(s) for s in FAMILY_STRATEGIES["pinch"]], device=device)
        self._family_of_strategy = torch.tensor([s in FAMILY_STRATEGIES["power"] for s in STRATEGIES], device=device)
        # every range and weight per (strategy, shape class), looked up by index when planning
        chosen = [[self.ranges_for(s, shape) for shape in SHAPE_CLASSES] for s in STRATEGIES]
        self._ranges = {
            key: torch.tensor([[getattr(r, key) for r in row] for row in chosen], device=device)
            * (hand.grasp_scale if key in SCALED_RANGES else 1.0)
            for key in ("along", "across", "height", "pitch", "yaw", "aperture", "depth")
        }
        self._weights = torch.tensor([[r.weight for r in row] for row in chosen], device=device)

    # --- planning -----------------------------------------------------------------------------
    def _uniform(self, low, high, n: int) -> torch.Tensor:
        low = torch.as_tensor(low, dtype=torch.float32, device=self.device)
        high = torch.as_tensor(high, dtype=torch.float32, device=self.device)
        return low + (high - low) * torch.rand(n, generator=self.generator, device=self.device)

    def ranges_for(self, strategy: str, shape_class: str) -> StrategyRanges:
        """The ranges under "<strategy>/<shape class>", else "<strategy>/box" for a flat box, else "<strategy>"."""
        ranges = self.cfg.strategies
        fallback = ranges.get(f"{strategy}/box", ranges[strategy]) if shape_class == "flat_box" else ranges[strategy]
        return ranges.get(f"{strategy}/{shape_class}", fallback)

    def reset(self, env_ids: torch.Tensor) -> None:
        """Plan a fresh grasp for env_ids (at the start of their episodes)."""
        env_ids = env_ids.to(self.device)
        n = len(env_ids)
        self.strategy[env_ids] = self._pick_strategy(env_ids)
        self.tries[env_ids] = 0
        self.planned[env_ids] = True
        cfg = self.cfg
        self.close_rate[env_ids] = self._uniform(*cfg.close_rate, n)
        self.squeeze[env_ids] = self._uniform(*cfg.squeeze, n)
        self._plan(env_ids)

    def _pick_strategy(self, env_ids: torch.Tensor) -> torch.Tensor:
        """A strategy of each environment's family, drawn by its weight for the object's shape."""
        weight = self._weights[:, self.shape_class[env_ids]].T  # (n, strategies)
        weight = weight * (self._family_of_strategy == self.power[env_ids].unsqueeze(-1))
        return torch.multinomial(weight, 1, generator=self.generator).squeeze(-1)

    def _plan(self, env_ids: torch.Tensor) -> None:
        """Grasp pose, pre-shape and timing from the object's current pose and geometry."""
        cfg, n, s = self.cfg, len(env_ids), self.env.physics.state
        strategy = self.strategy[env_ids]
        r = {key: value[strategy, self.shape_class[env_ids]] for key, value in self._ranges.items()}
        object_pos, object_quat = s.body_pos[env_ids, 0], s.body_quat[env_ids, 0]
        object_yaw = _yaw_of(object_quat)
        # boxes: a wrap closes the fingers across the narrow side (the hand's x along the long side); the
        # thumb and index of a pinch oppose roughly along the hand's x, so a pinch turns it across the box
        sizes = self.env.object_properties[env_ids, 1:3]
        along_long = object_yaw + torch.where(sizes[:, 0] < sizes[:, 1], 0.5 * torch.pi, 0.0)
        pinching = torch.isin(strategy, self._pinch_strategies)
        box_yaw = along_long + torch.where(pinching, 0.5 * torch.pi, 0.0)
        box_yaw = _wrap_half_turn(box_yaw)  # a box looks the same turned by half a turn: keep the wrist near home
        base_yaw = torch.where(self.is_box[env_ids], box_yaw, 0.0)
        yaw = base_yaw + self._uniform(r["yaw"][:, 0], r["yaw"][:, 1], n)
        pitch = self._uniform(r["pitch"][:, 0], r["pitch"][:, 1], n)
        zeros = torch.zeros(n, device=self.device)
        yaw_quat = quat_from_axis_angle(torch.stack((zeros, zeros, yaw), -1))
        pitch_quat = quat_from_axis_angle(torch.stack((zeros, pitch, zeros), -1))
        down = torch.tensor(PALM_DOWN, device=self.device).expand(n, 4)
        self.grasp_quat[env_ids] = quat_mul(yaw_quat, quat_mul(pitch_quat, down))
        along = self._uniform(r["along"][:, 0], r["along"][:, 1], n)
        across = self._uniform(r["across"][:, 0], r["across"][:, 1], n)
        offset = quat_apply(yaw_quat, torch.stack((-along, across, zeros), -1))
        top = object_pos[:, 2] + _half_height(self.shape[env_ids], self.sizes[env_ids], object_quat)
        height = self._uniform(r["height"][:, 0], r["height"][:, 1], n)
        depth = self._uniform(r["depth"][:, 0], r["depth"][:, 1], n)
        palm_z = torch.maximum(top + height, object_pos[:, 2] + depth)
        self.plan[env_ids] = torch.stack((along, across, height, pitch, yaw - base_yaw, depth), -1)
        self.grasp_pos[env_ids] = torch.cat((object_pos[:, :2] + offset[:, :2], palm_z.unsqueeze(-1)), -1)
        self.pregrasp[env_ids] = self._uniform(*cfg.pregrasp_height, n)
        self.aperture[env_ids] = self._uniform(r["aperture"][:, 0], r["aperture"][:, 1], n)
        self.synergy[env_ids] = self._synergies[strategy]
        self.active[env_ids] = self._active[strategy]
        durations = [
            torch.randint(lo, hi + 1, (n,), generator=self.generator, device=self.device)
            for lo, hi in (cfg.approach_steps, cfg.descend_steps, cfg.settle_steps)
        ]
        self.durations[env_ids] = torch.stack(durations, dim=-1)
        self.phase[env_ids] = APPROACH
        self.phase_step[env_ids] = 0
        self.closure[env_ids] = self.aperture[env_ids].unsqueeze(-1)
        self.touched[env_ids] = False
        self.backed_off[env_ids] = False
        self.extra[env_ids] = 0.0

    # --- free-air closing check ---------------------------------------------------------------
    def _apart_along_closing(self, closed: torch.Tensor, steps: int = 12) -> np.ndarray:
        """(...,) whether the fingers stay apart (free air) at every pose from open to `closed` (..., joints)."""
        amount = torch.linspace(1.0, 0.0, steps)
        low, high = self.env.finger_limits.cpu().unbind(-1)
        poses = torch.clamp(amount[:, None] * closed[..., None, :], low, high)
        qpos = np.tile(self.meter.model.qpos0, (poses[..., 0].numel(), 1))
        qpos[:, self.finger_adr] = poses.reshape(-1, poses.shape[-1]).numpy()
        depth = self.meter.measure(qpos).hand_hand.reshape(poses.shape[:-1])
        return (depth <= self.cfg.max_finger_overlap).all(axis=-1)

    def _feasible_synergy(self, synergy: torch.Tensor) -> torch.Tensor:
        """The synergy at full closure plus squeeze, with the thumb's part scaled down until the fingers
        stay apart while closing in free air: the thumb stops at the index, the other fingers still wrap."""
        thumb = self.is_thumb
        reach = synergy * self.cfg.max_closure
        scales = torch.linspace(1.0, 0.0, 21)
        candidates = torch.where(thumb, reach * scales[:, None], reach)
        apart = self._apart_along_closing(candidates)
        scale = scales[int(np.argmax(apart))] if apart.any() else 0.0
        return torch.where(thumb, synergy * scale, synergy)

    # --- acting -------------------------------------------------------------------------------
    def __call__(self, _obs=None) -> torch.Tensor:
        """The policy interface: the next actions (`abs_joint`) of every environment."""
        return self.actions(self.command())

    def command(self) -> torch.Tensor:
        """(N, 6 + hand joints): arm delta pose in [-1, 1] and absolute finger targets for the current state; environments
        whose episode has just started are planned first, unless `reset` already planned them."""
        env, s = self.env, self.env.physics.state
        starting = env.episode_length_buf == 0
        if (starting & ~self.planned).any():
            self.reset((starting & ~self.planned).nonzero().squeeze(-1))
        self.planned &= starting
        self._advance(s)
        phase, step = self.phase, self.phase_step.float()
        descend = self.durations[:, 1].float()
        # the pre-grasp pose lies `pregrasp` above the grasp pose
        above = torch.where(phase == DESCEND, (1.0 - step / descend).clamp(min=0.0), 0.0)
        above = torch.where((phase == APPROACH) | (phase == RELEASE), 1.0, above)
        palm_target = self.grasp_pos.clone()
        palm_target[:, 2] += above * self.pregrasp + torch.where(phase == LIFT, self.lift_z, 0.0)
        position = (palm_target - s.site_pos[:, 0]) / env.cfg.arm_translation_limit
        rotation_error = axis_angle_from_quat(quat_mul(self.grasp_quat, quat_conjugate(s.site_quat[:, 0])))
        rotation = rotation_error / env.cfg.arm_rotation_limit
        self.fingers = self._finger_targets()
        return torch.cat((position.clamp(-1.0, 1.0), rotation.clamp(-1.0, 1.0), self.fingers), dim=-1)

    def _finger_targets(self) -> torch.Tensor:
        finger = self.finger_of_joint.to(self.device)
        closure = self.closure[:, finger]
        extra = self.extra[:, finger] * self.flex_mask
        open_hand = (self.phase == RELEASE).unsqueeze(-1)
        targets = torch.where(open_hand, 0.0, closure * self.synergy + extra)
        low, high = self.env.finger_limits.unbind(-1)
        return torch.clamp(targets, low, high)

    def _advance(self, s) -> None:
        """Move every environment's phase on from what its hand and the object now do."""
        cfg = self.cfg
        self.phase_step += 1
        phase, step = self.phase, self.phase_step
        approach, descend, settle = self.durations.unbind(-1)
        nxt = phase.clone()
        nxt = torch.where((phase == APPROACH) & (step >= approach), DESCEND, nxt)
        nxt = torch.where((phase == DESCEND) & (step >= descend), CLOSE, nxt)
        # closing: each active finger closes until its tip touches or its servo is blocked, then squeezes
        closing = phase == CLOSE
        tip_contact = s.in_contact[:, : self.closure.shape[1]]
        flex = [self.num_arm_joints + j for j in self.flex_joints]
        blocked = s.joint_vel[:, flex].abs() < cfg.blocked_speed
        lag = ((self.fingers[:, self.flex_joints] - s.joint_pos[:, flex]) > cfg.contact_lag) & blocked
        # a fingertip stalled on the table has not touched the object: the palm rises and the finger closes on
        at_table = s.site_pos[:, 1 : 1 + self.closure.shape[1], 2] < cfg.tip_clearance
        self.touched |= closing.unsqueeze(-1) & (tip_contact | lag & ~at_table) & self.active
        on_table = (self.active & lag & at_table & ~tip_contact).any(dim=-1)
        self.grasp_pos[:, 2] += (closing & on_table) * cfg.rise_speed
        closure, extra = self.closure.clone(), self.extra.clone()
        free = (closing & ~self.backed_off).unsqueeze(-1) & ~self.touched & (self.closure < cfg.max_closure)
        self.closure += free * self.close_rate.unsqueeze(-1)
        squeezing = (closing & ~self.backed_off).unsqueeze(-1) & self.touched
        self.extra = torch.where(squeezing, (self.extra + 0.1).minimum(self.squeeze.unsqueeze(-1)), self.extra)
        self._keep_targets_apart(closing & ~self.backed_off, closure, extra)
        stopped = self.touched | ~self.active | (self.closure >= cfg.max_closure)
        squeezed = (self.extra >= self.squeeze.unsqueeze(-1)) | ~self.touched
        done_closing = (stopped.all(-1) & squeezed.all(-1)) | self.backed_off
        nxt = torch.where(closing & done_closing, SETTLE, nxt)
        nxt = torch.where((phase == SETTLE) & (step >= settle), LIFT, nxt)
        object_z = s.body_pos[:, 0, 2]
        starting_lift = (nxt == LIFT) & (phase != LIFT)
        self.palm_object_gap = torch.where(starting_lift, s.site_pos[:, 0, 2] - object_z, self.palm_object_gap)
        self.lift_z = torch.where(starting_lift, 0.0, self.lift_z)
        lifting = phase == LIFT
        self.lift_z = torch.where(lifting, (self.lift_z + cfg.lift_speed).clamp(max=cfg.lift_height), self.lift_z)
        slipped = lifting & (s.site_pos[:, 0, 2] - object_z - self.palm_object_gap > cfg.slip_distance)
        retry = slipped & (self.tries + 1 < cfg.max_tries)
        nxt = torch.where(retry, RELEASE, nxt)
        release_done = (phase == RELEASE) & (step >= 8)
        changed = nxt != phase
        self.phase = nxt
        self.phase_step = torch.where(changed, 0, self.phase_step)
        if release_done.any():
            ids = release_done.nonzero().squeeze(-1)
            self.tries[ids] += 1
            self._plan(ids)

    def _keep_targets_apart(self, closing: torch.Tensor, closure: torch.Tensor, extra: torch.Tensor) -> None:
        """Where the new finger targets would put fingers more than `max_finger_overlap` into each other in
        free air (so if the object slipped out of the hand), keep the last targets and close no further
        this try: whatever the object does, the servos never drive the fingers through each other."""
        ids = closing.nonzero().squeeze(-1)
        if len(ids) == 0:
            return
        qpos = np.tile(self.meter.model.qpos0, (len(ids), 1))
        qpos[:, self.finger_adr] = self._finger_targets()[ids].cpu().numpy()
        depth = torch.as_tensor(self.meter.measure(qpos).hand_hand, device=self.device)
        crossing = ids[depth > self.cfg.max_finger_overlap]
        self.closure[crossing], self.extra[crossing] = closure[crossing], extra[crossing]
        self.backed_off[crossing] = True

    def actions(self, command: torch.Tensor) -> torch.Tensor:
        """The command in the `abs_joint` action space."""
        low, high = self.env.finger_limits.unbind(-1)
        fingers = 2.0 * (command[:, 6:] - low) / (high - low) - 1.0
        return torch.cat((command[:, :6], fingers), dim=-1)


def _half_height(shape: torch.Tensor, size: torch.Tensor, quat: torch.Tensor) -> torch.Tensor:
    """(n,) how far the object reaches above its centre in its current pose (upright or tipped over), from
    its shape code and MuJoCo primitive sizes: a re-try plans for where the object now lies."""
    up = quat_apply(quat_conjugate(quat), torch.tensor([0.0, 0.0, 1.0], device=quat.device).expand_as(quat[:, 1:]))
    a, b, c = size.unbind(-1)
    ux, uy, uz = up.abs().unbind(-1)
    box = a * ux + b * uy + c * uz
    axial = (1.0 - uz.square()).clamp(min=0.0).sqrt()  # cylinder and capsule axes are the local z
    cylinder = b * uz + a * axial
    capsule = b * uz + a
    ellipsoid = (a.square() * ux.square() + b.square() * uy.square() + c.square() * uz.square()).sqrt()
    return torch.stack((box, cylinder, capsule, a, ellipsoid), -1).gather(-1, shape.unsqueeze(-1)).squeeze(-1)


def _yaw_of(quat: torch.Tensor) -> torch.Tensor:
    w, x, y, z = quat.unbind(-1)
    return torch.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _wrap_half_turn(angle: torch.Tensor) -> torch.Tensor:
    """The angle plus a multiple of pi, in [-pi/2, pi/2)."""
    return torch.remainder(angle + 0.5 * torch.pi, torch.pi) - 0.5 * torch.pi


def scripted_policy(env, generator: torch.Generator | None = None) -> ScriptedGrasp:
    """The demonstrator with its default settings, drawing from `generator` (default: one seeded by the
    environment's seed)."""
    generator = generator or torch.Generator(device=env.device).manual_seed(env.cfg.seed)
    return ScriptedGrasp(env, ScriptedGraspCfg(), generator)

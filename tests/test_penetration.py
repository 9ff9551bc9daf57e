"""Penetration depth: constructed overlaps with known answers, the LEAP grasp scene, the Kaolin path.

MuJoCo's colliders for these primitive pairs are analytic (EPA for ellipsoids), so the exact CPU path
meets the known depths to 1e-6 m (in practice to ~1e-12 m).
"""

import mujoco
import numpy as np
import pytest

from assets.franka import ARM_JOINT_NAMES
from assets.leap_hand import LEAP_HAND, LEAP_JOINT_NAMES, PALM
from assets.objects import object_set
from isaac_tasks.evaluation.penetration import (
    PenetrationMeter,
    infeasible,
    kaolin_available,
    surface_points,
    tessellate,
)
from isaac_tasks.grasp.grasp_env_cfg import GraspEnvCfg
from isaac_tasks.grasp.scene import OBJECT_BODY, grasp_scene

ROBOT_JOINTS = ARM_JOINT_NAMES + LEAP_JOINT_NAMES

G = mujoco.mjtGeom
TOL = 1e-6  # m


def two_body_spec(fixed: dict, moving: dict, moving_parent: str = "world", axis=(1, 0, 0)) -> mujoco.MjSpec:
    """Body 'a' with geom `fixed`; body 'b' on a slide joint along `axis` (qpos = offset) with geom
    `moving`; a far-away sphere 'object'."""
    spec = mujoco.MjSpec()
    spec.worldbody.add_body(name="a").add_geom(**fixed)
    parent = spec.worldbody if moving_parent == "world" else spec.body(moving_parent)
    b = parent.add_body(name="b")
    b.add_joint(name="slide", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=axis)
    b.add_geom(**moving)
    spec.worldbody.add_body(name="object", pos=(1, 1, 1)).add_geom(type=G.mjGEOM_SPHERE, size=(0.01, 0, 0))
    return spec


def test_overlapping_boxes():
    spec = two_body_spec(
        dict(type=G.mjGEOM_BOX, size=(0.02, 0.03, 0.04)),
        dict(type=G.mjGEOM_BOX, size=(0.02, 0.02, 0.02), pos=(0.0, 0.01, 0.005)),
    )
    meter = PenetrationMeter(spec, {"a": ["a"], "b": ["b"]}, "object", use_kaolin=False)
    # faces 4 cm apart at offset 0: overlap 0.04 - offset along x
    depth = meter.measure(np.array([[0.037], [0.0395], [0.041], [0.2]]))
    np.testing.assert_allclose(depth.hand_hand, [0.003, 0.0005, 0.0, 0.0], atol=TOL)
    assert depth.hand_hand[2] == 0.0 and depth.hand_hand[3] == 0.0
    assert np.all(depth.hand_object == 0.0)


def test_crossing_capsules():
    spec = two_body_spec(
        dict(type=G.mjGEOM_CAPSULE, fromto=(-0.05, 0, 0, 0.05, 0, 0), size=(0.01, 0, 0)),
        dict(type=G.mjGEOM_CAPSULE, fromto=(0, -0.05, 0, 0, 0.05, 0), size=(0.008, 0, 0)),
        axis=(0, 0, 1),
    )
    meter = PenetrationMeter(spec, {"a": ["a"], "b": ["b"]}, "object", use_kaolin=False)
    depth = meter.measure(np.array([[0.0], [0.016], [0.018], [0.03]]))
    np.testing.assert_allclose(depth.hand_hand, [0.018, 0.002, 0.0, 0.0], atol=TOL)


def test_fingertip_sphere_into_box_object():
    spec = mujoco.MjSpec()
    spec.worldbody.add_body(name="palm", pos=(0, 0, 0.5)).add_geom(type=G.mjGEOM_BOX, size=(0.05, 0.05, 0.01))
    tip = spec.worldbody.add_body(name="tip", pos=(0, 0, 0.05))
    tip.add_joint(name="press", type=mujoco.mjtJoint.mjJNT_SLIDE, axis=(0, 0, -1))
    tip.add_geom(type=G.mjGEOM_SPHERE, size=(0.01, 0, 0))
    spec.worldbody.add_body(name="object").add_geom(type=G.mjGEOM_BOX, size=(0.03, 0.03, 0.03))
    meter = PenetrationMeter(spec, {"palm": ["palm"], "index": ["tip"]}, "object", use_kaolin=False)
    # the sphere's bottom starts 1 cm above the box top and sinks `press - 0.01`
    depth = meter.measure(np.array([[0.0], [0.01], [0.0175], [0.02]]))
    np.testing.assert_allclose(depth.hand_object, [0.0, 0.0, 0.0075, 0.01], atol=TOL)
    assert depth.hand_object[0] == 0.0 and np.all(depth.hand_hand == 0.0)


def test_same_group_and_parent_child_links_do_not_count():
    box = dict(type=G.mjGEOM_BOX, size=(0.02, 0.02, 0.02))
    same_finger = PenetrationMeter(two_body_spec(box, box), {"index": ["a", "b"]}, "object", use_kaolin=False)
    adjacent = PenetrationMeter(
        two_body_spec(box, box, moving_parent="a"), {"palm": ["a"], "index": ["b"]}, "object", use_kaolin=False
    )
    spec = two_body_spec(box, box)
    spec.body("a").add_body(name="joint_only").add_body(name="c").add_geom(**box)  # a universal joint's two links
    through_joint_body = PenetrationMeter(
        spec, {"palm": ["a"], "index": ["c"], "middle": ["b"]}, "object", use_kaolin=False
    )
    for meter in (same_finger, adjacent):
        assert meter.num_hand_pairs == 0
        assert meter.measure(np.zeros((1, 1))).hand_hand[0] == 0.0
    assert through_joint_body.num_hand_pairs == 2  # b with a and with c, not a with c
    np.testing.assert_allclose(through_joint_body.measure(np.array([[0.039]])).hand_hand, [0.001], atol=TOL)
    excluded = PenetrationMeter(
        spec,
        {"palm": ["a"], "index": ["c"], "middle": ["b"]},
        "object",
        exclude=[("b", "a"), ("c", "b")],
        use_kaolin=False,
    )
    assert excluded.num_hand_pairs == 0


def test_bad_input():
    box = dict(type=G.mjGEOM_BOX, size=(0.02, 0.02, 0.02))
    meter = PenetrationMeter(two_body_spec(box, box), {"a": ["a"], "b": ["b"]}, "object", use_kaolin=False)
    with pytest.raises(ValueError, match="qpos must have shape"):
        meter.measure(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="no body named 'nope'"):
        PenetrationMeter(two_body_spec(box, box), {"a": ["nope"]}, "object", use_kaolin=False)


def test_infeasible_threshold():
    np.testing.assert_array_equal(infeasible(np.array([0.0, 0.005, 0.0051])), [False, False, True])


# --- the LEAP grasp scene -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def leap():
    dice = next(o for o in object_set() if o.name == "dice")
    meter = PenetrationMeter(grasp_scene(LEAP_HAND, dice, 0.01), LEAP_HAND.link_groups, OBJECT_BODY, use_kaolin=False)
    m = meter.model
    home = m.qpos0.copy()  # open hand (fingers at 0), object resting on the table
    adr = {name: int(m.jnt_qposadr[m.joint(name).id]) for name in (*ROBOT_JOINTS, "object_root")}
    for name, angle in zip(ROBOT_JOINTS, GraspEnvCfg().arm_home_pose):
        home[adr[name]] = angle
    return meter, home, adr, dice


def test_leap_open_hand_has_no_penetration(leap):
    meter, home, _, _ = leap
    depth = meter.measure(home[None])
    assert depth.hand_hand[0] == 0.0 and depth.hand_object[0] == 0.0


def test_leap_index_and_middle_abducted_into_each_other(leap):
    meter, home, adr, _ = leap
    states = np.repeat(home[None], 3, axis=0)
    # +abduction turns the index towards the middle finger, -abduction the middle towards the index
    for state, angle in zip(states, (0.1, 0.3, 1.047)):
        state[adr["index_mcp_abd"]], state[adr["middle_mcp_abd"]] = angle, -angle
    depth = meter.measure(states).hand_hand
    assert 0.0 < depth[0] < depth[1] and infeasible(depth[1:]).all()


def test_leap_palm_sunk_1cm_into_object(leap):
    meter, home, adr, dice = leap
    d = meter.data
    d.qpos[:] = home
    mujoco.mj_kinematics(meter.model, d)
    palm_pos, palm_rot = d.body("palm").xpos, d.body("palm").xmat.reshape(3, 3)
    site = palm_rot.T @ (d.site("palm").xpos - palm_pos)  # palm site in the palm frame
    surface = min(c[2] - h[2] for c, h in PALM.boxes)  # lowest palm box face (palm frame z)
    face = palm_pos + palm_rot @ np.array([site[0], site[1], surface])
    outward = -palm_rot[:, 2]  # the grasping side of the palm is palm frame -z
    state = home.copy()
    obj = adr["object_root"]
    state[obj : obj + 3] = face + outward * (dice.size[2] - 0.01)  # box top face 1 cm into the palm
    state[obj + 3 : obj + 7] = d.body("palm").xquat
    depth = meter.measure(state[None])
    assert depth.hand_object[0] == pytest.approx(0.01, abs=TOL)
    assert depth.hand_hand[0] == 0.0


# --- the Kaolin path ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "geom_type, size, volume",
    [
        (G.mjGEOM_BOX, (1, 2, 3), 48.0),
        (G.mjGEOM_SPHERE, (1, 0, 0), 4 / 3 * np.pi),
        (G.mjGEOM_CAPSULE, (1, 2, 0), 4 / 3 * np.pi + 4 * np.pi),
        (G.mjGEOM_CYLINDER, (1, 2, 0), 4 * np.pi),
        (G.mjGEOM_ELLIPSOID, (1, 2, 3), 8 * np.pi),
    ],
)
def test_tessellations_are_closed_and_fine(geom_type, size, volume):
    verts, faces = tessellate(geom_type, np.array(size, dtype=float))
    edges = np.concatenate((faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]))
    assert len(np.unique(edges, axis=0)) == len(edges)  # every directed edge once: closed, consistently wound
    assert len(np.unique(np.sort(edges, axis=1), axis=0)) == len(edges) // 2
    signed = np.einsum("fi,fi->f", verts[faces[:, 0]], np.cross(verts[faces[:, 1]], verts[faces[:, 2]])).sum() / 6
    assert 0.99 * volume < signed <= volume + 1e-9  # outward, inscribed
    points = surface_points(verts, faces, 0.05)
    assert len(points) > len(verts)


@pytest.mark.skipif(not kaolin_available(), reason="needs kaolin (no PyPI build) and a CUDA device")
def test_kaolin_matches_cpu(leap):
    boxes = two_body_spec(
        dict(type=G.mjGEOM_BOX, size=(0.02, 0.03, 0.04)),
        dict(type=G.mjGEOM_BOX, size=(0.02, 0.02, 0.02), pos=(0.0, 0.01, 0.005)),
    )
    capsules = two_body_spec(
        dict(type=G.mjGEOM_CAPSULE, fromto=(-0.05, 0, 0, 0.05, 0, 0), size=(0.01, 0, 0)),
        dict(type=G.mjGEOM_CAPSULE, fromto=(0, -0.05, 0, 0, 0.05, 0), size=(0.008, 0, 0)),
        axis=(0, 0, 1),
    )
    cases = [(boxes, np.array([[0.037], [0.0395], [0.2]])), (capsules, np.array([[0.016], [0.03]]))]
    for spec, states in cases:
        cpu = PenetrationMeter(spec, {"a": ["a"], "b": ["b"]}, "object", use_kaolin=False).measure(states)
        gpu = PenetrationMeter(spec, {"a": ["a"], "b": ["b"]}, "object", use_kaolin=True).measure(states)
        np.testing.assert_allclose(gpu.hand_hand, cpu.hand_hand, atol=1e-4)  # tessellation and float32
    meter, home, adr, dice = leap
    state = home.copy()
    state[adr["index_mcp_abd"]], state[adr["middle_mcp_abd"]] = 0.1, -0.1
    gpu = PenetrationMeter(grasp_scene(LEAP_HAND, dice, 0.01), LEAP_HAND.link_groups, OBJECT_BODY, use_kaolin=True)
    # crossing box edges: the deepest-point depth is positive but below the separating distance
    cpu_depth, gpu_depth = meter.measure(state[None]).hand_hand[0], gpu.measure(state[None]).hand_hand[0]
    assert 0.0 < gpu_depth <= cpu_depth + 1e-4

"""The torch finger-overlap depth against the exact penetration meter, and its reward term in the grasp task."""

import mujoco
import numpy as np
import pytest
import torch

from assets.leap_hand import LEAP_HAND, LEAP_JOINT_LIMITS, LEAP_JOINT_NAMES
from assets.objects import object_set
from isaac_tasks import make_env
from isaac_tasks.evaluation.penetration import PenetrationMeter
from isaac_tasks.grasp.scene import OBJECT_BODY, grasp_scene
from isaac_tasks.self_overlap import MIN_SPHERE_RADIUS, SelfOverlap


@pytest.fixture(scope="module")
def hand():
    meter = PenetrationMeter(
        grasp_scene(LEAP_HAND, object_set()[0], 0.01), LEAP_HAND.link_groups, OBJECT_BODY, use_kaolin=False
    )
    overlap = SelfOverlap(meter.model, LEAP_HAND.link_groups)
    m = meter.model
    fingers = np.array([m.jnt_qposadr[m.joint(name).id] for name in LEAP_JOINT_NAMES])
    obj = m.jnt_qposadr[m.joint("object_root").id]

    def both(finger_angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Exact and torch depths (m) of hand poses (n, 16), the object far away."""
        qpos = np.repeat(m.qpos0[None], len(finger_angles), axis=0)
        qpos[:, fingers] = finger_angles
        qpos[:, obj : obj + 3] = (5.0, 5.0, 1.0)
        ids = [m.body(name).id for name in overlap.bodies]
        pos, quat = [], []
        for q in qpos:
            meter.data.qpos[:] = q
            mujoco.mj_kinematics(m, meter.data)
            pos.append(meter.data.xpos[ids].copy())
            quat.append(meter.data.xquat[ids].copy())
        pos, quat = (torch.tensor(np.array(x), dtype=torch.float32) for x in (pos, quat))
        return meter.measure(qpos).hand_hand, overlap.depth(pos, quat).numpy()

    return both


def test_open_hand_does_not_overlap(hand):
    exact, approx = hand(np.zeros((1, 16)))
    assert exact[0] == 0.0 and approx[0] == 0.0


def test_fingers_abducted_into_each_other(hand):
    angles = np.zeros((3, 16))
    index_abd, middle_abd = LEAP_JOINT_NAMES.index("index_mcp_abd"), LEAP_JOINT_NAMES.index("middle_mcp_abd")
    for row, angle in zip(angles, (0.2, 0.3, 1.047)):
        row[index_abd], row[middle_abd] = angle, -angle
    exact, approx = hand(angles)
    assert (approx > 0.005).all()
    np.testing.assert_allclose(approx, exact, atol=0.005)  # spheres inside boxes miss crossing edges


def test_follows_the_meter_over_random_hands(hand):
    rng = np.random.default_rng(0)
    exact, approx = hand(rng.uniform(LEAP_JOINT_LIMITS[:, 0], LEAP_JOINT_LIMITS[:, 1], size=(300, 16)))
    assert np.corrcoef(exact, approx)[0, 1] > 0.9
    deep = exact > 0.01
    assert deep.sum() > 30 and (approx[deep] > 0.005).mean() > 0.85  # deep crossings are caught
    assert (exact[approx > 0.005] > 0.003).mean() > 0.95  # and what it flags is real


def test_thin_plates_pushed_into_a_link_are_caught():
    """Cover plates (boxes thinner than the spheres) have no spheres of their own; where a plate is the deepest
    piece of a crossing, the other link's spheres are tested against it (before they were not: 0.75 caught)."""
    meter = PenetrationMeter(
        grasp_scene(LEAP_HAND, object_set()[0], 0.01), LEAP_HAND.link_groups, OBJECT_BODY, use_kaolin=False
    )
    m, d = meter.model, meter.data
    overlap = SelfOverlap(m, LEAP_HAND.link_groups)
    fingers = np.array([m.jnt_qposadr[m.joint(name).id] for name in LEAP_JOINT_NAMES])
    ids = [m.body(name).id for name in overlap.bodies]
    plate = (m.geom_type == mujoco.mjtGeom.mjGEOM_BOX) & (m.geom_size.min(axis=1) < MIN_SPHERE_RADIUS)
    rng = np.random.default_rng(0)
    deep_plate, pos, quat = [], [], []
    for angles in rng.uniform(LEAP_JOINT_LIMITS[:, 0], LEAP_JOINT_LIMITS[:, 1], size=(1000, 16)):
        q = m.qpos0.copy()
        q[fingers] = angles
        near = [k for k in meter._near(q) if k < meter.num_hand_pairs]  # poses the model at q
        depth, pair = max(
            ((-mujoco.mj_geomDistance(m, d, *meter.pairs[k], 0.0, None), k) for k in near), default=(0, 0)
        )
        deep_plate.append(depth > 0.005 and plate[meter.pairs[pair]].any())
        pos.append(d.xpos[ids].copy())
        quat.append(d.xquat[ids].copy())
    deep_plate = np.array(deep_plate)
    approx = overlap.depth(*(torch.tensor(np.array(x), dtype=torch.float32) for x in (pos, quat))).numpy()
    assert deep_plate.sum() > 100 and (approx[deep_plate] > 0.005).mean() > 0.8


def test_unknown_link_is_an_error():
    model = grasp_scene(LEAP_HAND, object_set()[0], 0.01).compile()
    with pytest.raises(ValueError, match="lacks a link body"):
        SelfOverlap(model, {"palm": ["palm"], "index": ["no_such_link"]})


def test_grasp_task_rewards_and_logs_overlap_only_when_weighted():
    plain = make_env("Leap-Grasp-v0", num_envs=4)
    assert plain.physics.queries.bodies == (OBJECT_BODY,) and plain.overlap is None
    env = make_env("Leap-Grasp-v0", num_envs=4, episode_length_s=0.5, **{"rewards.finger_overlap": -300.0})
    generator = torch.Generator().manual_seed(0)
    env.reset()
    for _ in range(env.max_episode_length):
        _, _, _, extras = env.step(2 * torch.rand(4, env.num_actions, generator=generator) - 1)
    assert (extras["log"]["Episode_Reward/finger_overlap"] <= 0.0).all()
    assert extras["log"]["Metrics/infeasible"].shape == (4,)


def test_the_infeasible_penalty_is_paid_once_when_an_episode_first_passes_half_a_centimetre():
    """Same seed and actions with and without the term: the rewards differ by its weight on exactly the steps
    where an environment's overlap first went past 0.5 cm, and never again in that episode."""
    settings = {"num_envs": 8, "seed": 3, "num_threads": 1, "episode_length_s": 1.0}
    weighted = make_env("Leap-Grasp-v0", **settings, **{"rewards.infeasible": -50.0})
    plain = make_env("Leap-Grasp-v0", **settings)
    generator = torch.Generator().manual_seed(0)
    paid, expected = [], []
    for _ in range(weighted.max_episode_length - 1):  # within one episode
        actions = 2 * torch.rand(8, weighted.num_actions, generator=generator) - 1
        before = weighted.infeasible.clone()
        reward = weighted.step(actions)[1]
        paid.append(reward - plain.step(actions)[1])
        expected.append(-50.0 * (weighted.infeasible & ~before).float())
    paid, expected = torch.stack(paid), torch.stack(expected)
    assert (expected != 0).any()  # random actions cross fingers in some environments
    torch.testing.assert_close(paid, expected, atol=1e-4, rtol=0)
    assert ((paid != 0).sum(dim=0) <= 1).all()

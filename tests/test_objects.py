import pytest
import torch

from assets.objects import object_set
from isaac_tasks import make_env
from isaac_tasks.grasp.scene import OBJECT_BODY
from isaac_tasks.math import quat_apply


def test_object_set_is_tagged_and_deterministic():
    objects = object_set(seed=7)
    assert len(objects) >= 10
    assert {o.grasp_type for o in objects} == {"pinch", "power"}
    assert objects == object_set(seed=7)
    assert objects != object_set(seed=8)
    assert all(o.mass > 0 and o.friction > 0 and o.rest_height > 0 for o in objects)


def test_grasp_type_filter():
    assert {o.grasp_type for o in object_set(grasp_type="pinch")} == {"pinch"}
    assert {o.grasp_type for o in object_set(grasp_type="power")} == {"power"}
    with pytest.raises(ValueError, match="grasp_type"):
        object_set(grasp_type="claw")


def test_every_object_rests_stably_where_it_is_spawned():
    """Nudged (spun at 1 rad/s about a horizontal axis of its own) as it stands on the table, every object rocks
    back upright: an ellipsoid balanced on a longer axis than its shortest (the plush bunny once) fell over at the
    first touch of the hand, so no grasp planned from its pose held. Spheres roll by nature; capsules stand on a
    rounded end, balanced, and topple (a known flaw of the object set, docs/decisions.md)."""
    env = make_env("Leap-Grasp-v0", num_envs=12, seed=0, arm_disturbance_torque=0.0, finger_disturbance_torque=0.0)
    env.reset()
    s, ids = env.physics.state, torch.arange(env.num_envs)
    pos, quat = s.body_pos[:, 0].clone(), s.body_quat[:, 0].clone()
    spin = quat_apply(quat, torch.tensor([1.0, 1.0, 0.0]).expand(env.num_envs, 3) / 2**0.5)
    env.physics.reset_envs(
        ids, s.joint_pos.clone(), torch.zeros_like(s.joint_vel), {OBJECT_BODY: (pos, quat)},
        {OBJECT_BODY: (torch.zeros_like(pos), spin)},
    )  # fmt: skip
    with torch.inference_mode():
        for _ in range(30):  # 1.5 s, the hand held still above
            env.step(torch.zeros(env.num_envs, env.num_actions))
    s = env.physics.state
    up = quat_apply(s.body_quat[:, 0], torch.tensor([0.0, 0.0, 1.0]).expand(env.num_envs, 3))
    objects = [env.objects[k] for k in env.object_index.tolist()]
    names = [o.name for o in objects]
    standing = torch.tensor([o.shape not in ("sphere", "capsule") for o in objects])
    assert standing.sum() == 8
    assert (up[standing, 2] > 0.99).all(), dict(zip(names, up[:, 2].tolist()))

"""ORCA hand v2 (right) model checks against the published kinematics.

The reference forward kinematics below is written independently of ``assets/orca_hand.py``
and uses a *different* published description: the MuJoCo body tree of
orcahand/orcahand_description ``v2/models/mjcf/orcahand_right_body.xml`` (body pos/quat,
joint pos/axis, MJCF angle convention), while the generator uses the URDF-style joint table
of orcahand/orca_core ``orca_core/kinematics/data/v2_kinematics.yaml``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import mujoco
import numpy as np
import pytest

from assets.orca_hand import (
    ORCA_FINGERTIP_BODIES,
    ORCA_FINGERTIP_SITES,
    ORCA_JOINT_LIMITS,
    ORCA_JOINT_NAMES,
    PALM_HEIGHT,
    add_orca_hand,
    orca_hand_spec,
)

REPO = Path(__file__).resolve().parents[1]
N_CONFIGS = 200
FK_TOL = 0.003  # m

# orca_core/models/v2/orcahand-right/config.yaml: joint_ids (order) and joint_roms (deg).
PUBLISHED_ROMS_DEG = {
    "wrist": (-65, 35),
    "thumb_cmc": (-45, 33),
    "thumb_abd": (-18, 55),
    "thumb_mcp": (-25, 100),
    "thumb_dip": (-15, 107),
    "index_abd": (-30, 25),
    "index_mcp": (-25, 100),
    "index_pip": (-15, 107),
    "middle_abd": (-27, 27),
    "middle_mcp": (-25, 100),
    "middle_pip": (-15, 107),
    "ring_abd": (-27, 27),
    "ring_mcp": (-25, 100),
    "ring_pip": (-15, 107),
    "pinky_abd": (-30, 30),
    "pinky_mcp": (-25, 100),
    "pinky_pip": (-15, 107),
}
# orcahand_description v2/models/assets/options.xml (joint and position-actuator defaults).
PUBLISHED_KP, PUBLISHED_FORCE = 2.0, 1.0
PUBLISHED_DAMPING, PUBLISHED_ARMATURE, PUBLISHED_FRICTIONLOSS = 0.1, 0.001, 0.001

# MJCF body tree (orcahand_description v2 orcahand_right_body.xml), relative to the forearm
# frame.  body: (parent, pos, quat wxyz, joint name or None, joint pos, joint axis, MJCF range).
# MJCF angle = sign * orca_core angle, sign -1 for the four finger abductions.
MJCF_SIGN = {n: (-1 if n.endswith("_abd") and not n.startswith("thumb") else 1) for n in PUBLISHED_ROMS_DEG}
Z3 = (0.0, 0.0, 0.0)
MJCF_TREE = {
    "tower": (None, (-0.01, 0.0523, 0.0), (-0.5, 0.5, -0.5, -0.5), None, Z3, Z3, None),
    "carpals": (
        "tower",
        (-0.001877078, 0.005, 0.0895),
        (-0.7071067812, 0.0, 0.0, 0.7071067812),
        "wrist",
        (0.005, 0.001877078, -0.0495),
        (-1.0, 0.0, 0.0),
        (-1.134464014, 0.610865238),
    ),
    "T-TP": (
        "carpals",
        (-0.02121341, 0.01433247, -0.02172482),
        (0.6591193784, 0.3595106004, -0.07247312029, -0.6565526789),
        "thumb_cmc",
        (0.0, 0.0, 0.00385),
        (0.0, 0.0, -1.0),
        (-0.785398163, 0.575958653),
    ),
    "T-AP": (
        "T-TP",
        (-0.036, 0.0, 0.0),
        (0.8191520443, -0.5735764364, 0.0, 0.0),
        "thumb_abd",
        (0.028, 0.0, 0.0),
        (0.0, 0.3420201433, 0.9396926208),
        (-0.314159265, 0.959931089),
    ),
    "T-PP": (
        "T-AP",
        Z3,
        (0.0, 0.7071067812, 0.0, -0.7071067812),
        "thumb_mcp",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.436332313, 1.745329252),
    ),
    "T-DP": (
        "T-PP",
        (0.001, 0.0, 0.032),
        (1.0, 0.0, 0.0, 0.0),
        "thumb_dip",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.261799388, 1.867502300),
    ),
    "I-AP": (
        "carpals",
        (-0.02557548, 0.0006809253, 0.03835733),
        (0.5196467883, 0.5667240335, 0.4317303416, -0.4715930422),
        "index_abd",
        (0.01875, 0.0, 0.001),
        (0.0, 0.0, 1.0),
        (-0.436332313, 0.523598776),
    ),
    "I-PP": (
        "I-AP",
        (-0.0004009682, 0.0, 0.0),
        (0.7071067812, 0.0, -0.7071067812, 0.0),
        "index_mcp",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.436332313, 1.745329252),
    ),
    "I-DP": (
        "I-PP",
        (0.0015, 0.0, 0.037),
        (1.0, 0.0, 0.0, 0.0),
        "index_pip",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.261799388, 1.867502300),
    ),
    "M-AP": (
        "carpals",
        (-0.0007567301, -0.001146326, 0.04825183),
        (-0.5006540699, -0.5006540699, -0.4993450733, 0.4993450733),
        "middle_abd",
        (0.01925, 0.0, 0.001),
        (0.0, 0.0, 1.0),
        (-0.471238898, 0.471238898),
    ),
    "M-PP": (
        "M-AP",
        (-0.0006169679, 0.0, 0.0),
        (-0.7071067812, 0.0, 0.7071067812, 0.0),
        "middle_mcp",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.436332313, 1.745329252),
    ),
    "M-DP": (
        "M-PP",
        (0.002, 0.0, 0.04),
        (1.0, 0.0, 0.0, 0.0),
        "middle_pip",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.261799388, 1.867502300),
    ),
    "R-AP": (
        "carpals",
        (0.02300541, -0.0001014499, 0.04085074),
        (-0.4851713041, -0.4384920443, -0.5547294179, 0.5144014052),
        "ring_abd",
        (0.01925, 0.0, 0.001),
        (0.0, 0.0, 1.0),
        (-0.471238898, 0.471238898),
    ),
    "R-PP": (
        "R-AP",
        (-0.0006169679, 0.0, 0.0),
        (-0.7071067812, 0.0, 0.7071067812, 0.0),
        "ring_mcp",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.436332313, 1.745329252),
    ),
    "R-DP": (
        "R-PP",
        (0.002, 0.0, 0.04),
        (1.0, 0.0, 0.0, 0.0),
        "ring_pip",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.261799388, 1.867502300),
    ),
    "P-AP": (
        "carpals",
        (0.04666878, 0.005000984, 0.02910142),
        (-0.4573184613, -0.3401988014, -0.6138690652, 0.5461587419),
        "pinky_abd",
        (0.01775, 0.0, 0.001),
        (0.0, 0.0, 1.0),
        (-0.523598776, 0.523598776),
    ),
    "P-PP": (
        "P-AP",
        Z3,
        (-0.7071067812, 0.0, 0.7071067812, 0.0),
        "pinky_mcp",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.436332313, 1.745329252),
    ),
    "P-DP": (
        "P-PP",
        (0.001, 0.0, 0.031),
        (1.0, 0.0, 0.0, 0.0),
        "pinky_pip",
        Z3,
        (0.0, -1.0, 0.0),
        (-0.261799388, 1.867502300),
    ),
}
# Fingertip points in the distal-link frame (z along the finger, -x palmar): centre of the
# rounded tip, measured from the v2 right distal meshes (T-DP, *-FingerTipAssembly).
TIP_POINTS = {
    "thumb_tip": ("T-DP", (0.0, 0.0, 0.022)),
    "index_tip": ("I-DP", (-0.0065, 0.0, 0.0385)),
    "middle_tip": ("M-DP", (-0.0065, 0.0, 0.0385)),
    "ring_tip": ("R-DP", (-0.0065, 0.0, 0.0385)),
    "pinky_tip": ("P-DP", (-0.007, 0.0, 0.0317)),
}


def _quat_mat(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, float) / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _axis_angle(axis, angle: float) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def _homog(rot: np.ndarray, pos) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3], t[:3, 3] = rot, pos
    return t


def reference_fk(q_orca: dict[str, float]) -> dict[str, np.ndarray]:
    """Fingertip positions in the hand base (forearm) frame from the MJCF body tree."""
    frames: dict[str, np.ndarray] = {}
    for body, (parent, pos, quat, joint, jpos, axis, _) in MJCF_TREE.items():
        t = (frames[parent] if parent else np.eye(4)) @ _homog(_quat_mat(quat), pos)
        if joint is not None:
            angle = MJCF_SIGN[joint] * q_orca[joint]
            jp = np.asarray(jpos)
            t = t @ _homog(np.eye(3), jp) @ _homog(_axis_angle(axis, angle), Z3) @ _homog(np.eye(3), -jp)
        frames[body] = t
    return {site: (frames[body] @ np.array([*p, 1.0]))[:3] for site, (body, p) in TIP_POINTS.items()}


@pytest.fixture(scope="module")
def model() -> mujoco.MjModel:
    return orca_hand_spec().compile()


def _random_configs(n: int, seed: int = 0) -> np.ndarray:
    lo, hi = ORCA_JOINT_LIMITS.T
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))


def test_joint_names_order_and_actuators(model: mujoco.MjModel) -> None:
    assert ORCA_JOINT_NAMES == tuple(PUBLISHED_ROMS_DEG)
    assert [model.joint(i).name for i in range(model.njnt)] == list(ORCA_JOINT_NAMES)
    assert [model.actuator(i).name for i in range(model.nu)] == list(ORCA_JOINT_NAMES)
    assert model.nq == model.nv == model.nu == 17
    np.testing.assert_array_equal(model.actuator_trnid[:, 0], np.arange(17))


def test_joint_ranges_match_published(model: mujoco.MjModel) -> None:
    roms = np.deg2rad([PUBLISHED_ROMS_DEG[n] for n in ORCA_JOINT_NAMES])
    np.testing.assert_allclose(ORCA_JOINT_LIMITS, roms, atol=1e-12)
    np.testing.assert_allclose(model.jnt_range, roms, atol=1e-9)
    np.testing.assert_allclose(model.actuator_ctrlrange, roms, atol=1e-9)
    assert model.jnt_limited.all() and model.actuator_ctrllimited.all()
    # Cross-check with the MJCF ranges (orca_core angle = sign * MJCF angle).
    mjcf = {tree[3]: tree[6] for tree in MJCF_TREE.values() if tree[3]}
    for name, (lo, hi) in zip(ORCA_JOINT_NAMES, roms):
        expect = sorted(MJCF_SIGN[name] * np.array(mjcf[name]))
        np.testing.assert_allclose((lo, hi), expect, atol=1e-6, err_msg=name)


def test_gains_match_published(model: mujoco.MjModel) -> None:
    np.testing.assert_allclose(model.actuator_gainprm[:, 0], PUBLISHED_KP)
    np.testing.assert_allclose(model.actuator_biasprm[:, :3], [[0.0, -PUBLISHED_KP, 0.0]] * 17)
    np.testing.assert_allclose(model.actuator_forcerange, [[-PUBLISHED_FORCE, PUBLISHED_FORCE]] * 17)
    assert model.actuator_forcelimited.all()
    np.testing.assert_allclose(model.dof_damping, PUBLISHED_DAMPING)
    np.testing.assert_allclose(model.dof_armature, PUBLISHED_ARMATURE)
    np.testing.assert_allclose(model.dof_frictionloss, PUBLISHED_FRICTIONLOSS)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.timestep == pytest.approx(1.0 / 120.0)


def test_fingertip_fk_matches_reference(model: mujoco.MjModel) -> None:
    data = mujoco.MjData(model)
    base = model.body("base").id
    max_err = 0.0
    for q in _random_configs(N_CONFIGS):
        data.qpos[:] = q
        mujoco.mj_kinematics(model, data)
        rot, pos = data.xmat[base].reshape(3, 3), data.xpos[base]
        ref = reference_fk(dict(zip(ORCA_JOINT_NAMES, q)))
        for site in ORCA_FINGERTIP_SITES:
            local = rot.T @ (data.site_xpos[model.site(site).id] - pos)
            max_err = max(max_err, float(np.linalg.norm(local - ref[site])))
    print(f"max fingertip error over {N_CONFIGS} configs: {max_err * 1e3:.6f} mm")
    assert max_err < FK_TOL


def test_palm_down_mount_and_sites(model: mujoco.MjModel) -> None:
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    palm = model.site("palm").id
    np.testing.assert_allclose(data.site_xpos[palm], [0.0, 0.0, PALM_HEIGHT], atol=1e-9)
    np.testing.assert_allclose(data.site_xmat[palm].reshape(3, 3)[:, 2], [0, 0, -1], atol=1e-9)
    # Curling the fingers moves the tips below the palm (toward a cube held underneath).
    data.qpos[:] = 0.0
    for f in ("index", "middle", "ring", "pinky"):
        data.qpos[model.joint(f"{f}_mcp").qposadr[0]] = np.deg2rad(60)
    mujoco.mj_kinematics(model, data)
    for site in ORCA_FINGERTIP_SITES[1:]:
        assert data.site_xpos[model.site(site).id][2] < PALM_HEIGHT - 0.02
    for site, body in zip(ORCA_FINGERTIP_SITES, ORCA_FINGERTIP_BODIES):
        assert model.site_bodyid[model.site(site).id] == model.body(body).id
    up = orca_hand_spec(palm_down=False).compile()
    d_up = mujoco.MjData(up)
    mujoco.mj_kinematics(up, d_up)
    np.testing.assert_allclose(d_up.site_xmat[up.site("palm").id].reshape(3, 3)[:, 2], [0, 0, 1], atol=1e-9)


def test_collision_and_mass(model: mujoco.MjModel) -> None:
    assert (model.geom_contype == 1).all() and (model.geom_conaffinity == 0).all()
    primitives = {mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_SPHERE}
    assert {int(t) for t in model.geom_type} <= {int(t) for t in primitives}
    for body in ORCA_FINGERTIP_BODIES:
        tips = [
            g
            for g in range(model.ngeom)
            if model.geom_bodyid[g] == model.body(body).id and model.geom_condim[g] in (4, 6)
        ]
        assert tips, body
        assert all(model.geom_friction[g][0] == pytest.approx(1.0) for g in tips)
    hand_mass = model.body_subtreemass[model.body("palm").id]
    assert 0.2 < hand_mass < 0.8  # palm + fingers, URDF link masses


def test_hold_random_pose_under_gravity(model: mujoco.MjModel) -> None:
    data = mujoco.MjData(model)
    wrist = ORCA_JOINT_NAMES.index("wrist")
    for q in _random_configs(5, seed=1):
        mujoco.mj_resetData(model, data)
        data.qpos[:] = q
        data.ctrl[:] = q
        for _ in range(2000):
            mujoco.mj_step(model, data)
        assert np.isfinite(data.qpos).all() and np.isfinite(data.qvel).all()
        err = np.abs(data.qpos - q)
        assert np.delete(err, wrist).max() < 0.03
        # Published kp = 2 N m/rad: the wrist carries ~0.4 kg, static sag up to ~0.18 rad.
        assert err[wrist] < 0.25
        assert np.abs(data.qvel).max() < 1e-2


@pytest.mark.parametrize("in_place", [False, True])
def test_add_with_prefix(in_place: bool) -> None:
    spec = mujoco.MjSpec()  # default compiler angle unit: degrees
    arm = spec.worldbody.add_body(name="arm", pos=[0.3, 0.0, 0.5])
    add_orca_hand(arm, prefix="right_", spec=spec if in_place else None)
    m = spec.compile()
    assert [m.actuator(i).name for i in range(m.nu)] == [f"right_{n}" for n in ORCA_JOINT_NAMES]
    assert m.site("right_palm").id >= 0 and m.site("right_index_tip").id >= 0
    np.testing.assert_allclose(m.jnt_range, ORCA_JOINT_LIMITS, atol=1e-9)
    np.testing.assert_allclose(m.actuator_ctrlrange, ORCA_JOINT_LIMITS, atol=1e-9)


def test_main_writes_xml(tmp_path: Path) -> None:
    out = tmp_path / "orca_hand.xml"
    subprocess.run([sys.executable, "-m", "assets.orca_hand", str(out)], cwd=REPO, check=True)
    m = mujoco.MjModel.from_xml_path(str(out))
    assert m.nu == 17 and m.site("palm").id >= 0

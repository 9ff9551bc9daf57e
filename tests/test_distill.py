"""Distillation: point clouds of a known scene, extrinsic noise, the dataset's resume and validation, the
p_teacher schedule, and DAgger end to end with the real environments and tools."""

import glob
import os
import shutil
import signal
import subprocess
import sys
import time

import h5py
import mujoco
import numpy as np
import pytest
import torch

from distill.point_cloud import CameraCfg, PointCloudCfg, PointCloudSensor
from isaac_tasks.math import quat_apply, quat_apply_inverse, quat_from_yaw, quat_mul
from isaac_tasks.physics.interface import SceneQueries
from isaac_tasks.physics.mujoco_backend import MujocoBackend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "Leap-Grasp-v0"
BOX_HALF = torch.tensor([0.06, 0.04, 0.03])
BASE_POS, BASE_YAW = torch.tensor([0.2, -0.1, 0.05]), 0.4


def tool(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def box_backend(num_envs: int, post_at: tuple[float, float] | None = None):
    """A box on a free joint (no floor) and nothing else, or a fixed post standing at `post_at` (x, y in the
    robot base frame) too; the box's pose is set per environment."""
    spec = mujoco.MjSpec()
    body = spec.worldbody.add_body(name="box")
    body.add_freejoint()
    body.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=BOX_HALF.tolist())
    if post_at is not None:
        pos = quat_apply(quat_from_yaw(torch.tensor(BASE_YAW)), torch.tensor([*post_at, 0.0])) + BASE_POS
        post = spec.worldbody.add_body(name="post", pos=pos.tolist())
        post.add_geom(type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.01, 0.01, 0.3])
    queries = SceneQueries(joints=(), bodies=("box",), free_bodies=("box",))
    return MujocoBackend([spec], np.zeros(num_envs, dtype=int), queries, num_threads=1)


def place_box(physics, base_pos, yaw):
    """Box poses in the world frame, from poses in the robot base frame."""
    base_quat = quat_from_yaw(torch.tensor([BASE_YAW])).expand(len(base_pos), 4)
    world_pos = quat_apply(base_quat, base_pos) + BASE_POS
    world_quat = quat_mul(base_quat, quat_from_yaw(yaw))
    n = physics.num_envs
    physics.reset_envs(torch.arange(n), torch.zeros(n, 0), torch.zeros(n, 0), {"box": (world_pos, world_quat)})


def box_cloud_cfg(**overrides) -> PointCloudCfg:
    cameras = [
        CameraCfg(pos=(0.9, 0.4, 0.45), target=(0.5, 0.0, 0.0), width=40, height=30),
        CameraCfg(pos=(0.9, -0.4, 0.45), target=(0.5, 0.0, 0.0), width=40, height=30),
    ]
    values = dict(
        cameras=cameras,
        num_points=300,
        workspace_min=(0.2, -0.3, -0.2),
        workspace_max=(0.8, 0.3, 0.3),
        extrinsic_pos_noise=0.0,
        extrinsic_rot_noise=0.0,
        point_noise=0.0,
        base_pos=tuple(BASE_POS.tolist()),
        base_quat=tuple(quat_from_yaw(torch.tensor(BASE_YAW)).tolist()),
    )
    values.update(overrides)
    return PointCloudCfg(**values)


def box_surface_distance(points, box_pos, box_yaw):
    """|signed distance| of base-frame points (N, P, 3) to the boxes (N, 3), (N,)."""
    quat = quat_from_yaw(box_yaw).unsqueeze(1).expand(*points.shape[:2], 4)
    local = quat_apply_inverse(quat, points - box_pos.unsqueeze(1))
    q = local.abs() - BOX_HALF
    return (q.clamp_min(0).norm(dim=-1) + q.amax(dim=-1).clamp_max(0)).abs()


@pytest.fixture(scope="module")
def box_scene():
    physics = box_backend(16)
    generator = torch.Generator().manual_seed(0)
    box_pos = torch.stack(
        (
            0.45 + 0.1 * torch.rand(16, generator=generator),
            0.1 * torch.rand(16, generator=generator) - 0.05,
            torch.zeros(16),
        ),
        -1,
    )
    box_yaw = 3.0 * torch.rand(16, generator=generator)
    place_box(physics, box_pos, box_yaw)
    return physics, box_pos, box_yaw


@pytest.mark.parametrize("sampling", ["random", "fps"])
def test_point_cloud_of_a_box_lies_on_its_surface_in_the_base_frame(box_scene, sampling):
    physics, box_pos, box_yaw = box_scene
    exact = PointCloudSensor(physics, box_cloud_cfg(sampling=sampling), torch.Generator().manual_seed(1))()
    assert exact.shape == (16, 300, 3)
    assert box_surface_distance(exact, box_pos, box_yaw).max() < 1e-4
    # Both cameras see the box: points on its +x side (towards the cameras) and on its top.
    local = quat_apply_inverse(quat_from_yaw(box_yaw).unsqueeze(1).expand(16, 300, 4), exact - box_pos.unsqueeze(1))
    assert (local[..., 2] > 0.029).float().mean() > 0.2

    sigma = 0.002
    noisy = PointCloudSensor(physics, box_cloud_cfg(point_noise=sigma), torch.Generator().manual_seed(1))()
    distance = box_surface_distance(noisy, box_pos, box_yaw)
    assert distance.max() < 5 * sigma
    assert 0.4 * sigma < distance.mean() < 1.2 * sigma  # ~ sqrt(2 / pi) sigma along the surface normal


def test_a_segmented_cloud_keeps_the_body_and_what_hides_it(box_scene):
    physics, box_pos, box_yaw = box_scene
    with_post = box_backend(16, post_at=(0.7, 0.2))  # between the box and the left camera
    place_box(with_post, box_pos, box_yaw)
    seen, seen_hit = PointCloudSensor(with_post, box_cloud_cfg(), torch.Generator()).camera_points()
    masked, masked_hit = PointCloudSensor(
        with_post, box_cloud_cfg(segment_body="box"), torch.Generator()
    ).camera_points()
    _, box_hit = PointCloudSensor(physics, box_cloud_cfg(segment_body="box"), torch.Generator()).camera_points()
    on_box = box_surface_distance(seen, box_pos, box_yaw) < 1e-4
    assert (seen_hit & ~on_box).any()  # the post is in view
    assert torch.equal(masked_hit, seen_hit & on_box)  # the mask drops it and keeps every box pixel it leaves
    torch.testing.assert_close(masked[masked_hit], seen[masked_hit])
    assert (box_hit & ~masked_hit).sum() > 0 and not (masked_hit & ~box_hit).any()  # box pixels it hides stay hidden
    cloud = PointCloudSensor(with_post, box_cloud_cfg(segment_body="box"), torch.Generator())()
    assert box_surface_distance(cloud, box_pos, box_yaw).max() < 1e-4
    with pytest.raises(ValueError, match="no body named 'lid'"):
        PointCloudSensor(with_post, box_cloud_cfg(segment_body="lid"), torch.Generator())


def test_extrinsic_noise_moves_each_camera_cloud_by_its_drawn_error(box_scene):
    physics = box_scene[0]
    clean_points, hit = PointCloudSensor(physics, box_cloud_cfg(), torch.Generator()).camera_points()
    shifted = PointCloudSensor(physics, box_cloud_cfg(extrinsic_pos_noise=0.03), torch.Generator().manual_seed(2))
    points, shifted_hit = shifted.camera_points()
    assert torch.equal(hit, shifted_hit)  # the rays are cast from the true poses
    offset = shifted.pos_error[:, shifted.camera_of_ray]  # (N, R, 3): each camera's position error
    torch.testing.assert_close((points - clean_points)[hit], offset[hit], atol=1e-5, rtol=0)
    errors = shifted.pos_error.flatten()
    assert 0.02 < errors.std() < 0.04 and errors.abs().max() > 0.0

    sigma = 0.05
    turned = PointCloudSensor(physics, box_cloud_cfg(extrinsic_rot_noise=sigma), torch.Generator().manual_seed(3))
    points, _ = turned.camera_points()
    angles = []
    for env in range(physics.num_envs):
        for camera in range(2):
            rows = hit[env] & (turned.camera_of_ray == camera)
            centre = turned.cam_pos[camera]
            a, b = clean_points[env, rows] - centre, points[env, rows] - centre
            u, _, vt = torch.linalg.svd(a.T.double() @ b.double())  # rotation taking a onto b (Kabsch)
            rotation = (vt.T @ u.T).float()
            torch.testing.assert_close(a @ rotation.T, b, atol=1e-4, rtol=0)
            angles.append(torch.arccos(((rotation.trace() - 1) / 2).clamp(-1, 1)))
    rms = torch.stack(angles).square().mean().sqrt()
    assert 0.7 * sigma * 3**0.5 < rms < 1.3 * sigma * 3**0.5  # the angle of an N(0, sigma^2 I) rotation vector

    before = turned.rot_error.clone()
    turned.reset(torch.tensor([3]))
    assert not torch.equal(turned.rot_error[3], before[3])
    assert torch.equal(turned.rot_error[:3], before[:3]) and torch.equal(turned.rot_error[4:], before[4:])


def test_a_camera_that_sees_nothing_of_the_workspace_is_refused(box_scene):
    cfg = box_cloud_cfg()
    cfg.cameras.append(CameraCfg(pos=(0.5, 0.0, 2.0), target=(0.5, 2.0, 2.5)))  # looks away, above
    with pytest.raises(ValueError, match="camera 2 .* sees nothing of the workspace"):
        PointCloudSensor(box_scene[0], cfg, torch.Generator())


def test_p_teacher_starts_at_one_and_decays_by_its_factor():
    from distill.teacher import p_teacher_at

    assert p_teacher_at(0) == 1.0
    assert p_teacher_at(1) == pytest.approx(0.999)
    assert p_teacher_at(200) == pytest.approx(0.999**200)
    assert p_teacher_at(3, start=0.8, decay=0.5) == pytest.approx(0.1)


def test_chunked_execution_decides_on_its_queue_with_prefix_and_ema():
    """Chunk 4 after a prefix of 2, 3 actions per decision, EMA 0.5, two environments, one of them restarted."""
    from distill.chunking import ChunkedExecutor

    calls = []

    def decide(env_ids, prefix):  # chunk entry k of decision d for env e: 100 d + 10 k + e
        calls.append((env_ids.tolist(), prefix[..., 0].tolist()))
        d = len(calls)
        return (100.0 * d + 10.0 * torch.arange(4) + env_ids[:, None].float()).unsqueeze(-1)

    executor = ChunkedExecutor(decide, num_envs=2, action_dim=1, chunk=4, prefix=2, execute=3, alpha=0.5)
    with pytest.raises(ValueError, match="holding action"):
        executor()
    executor.reset(torch.arange(2), hold=torch.full((2, 1), -1.0))
    executed = [executor()[:, 0].tolist() for _ in range(5)]
    executor.reset(torch.tensor([1]), hold=torch.full((1, 1), -2.0))
    executed += [executor()[:, 0].tolist() for _ in range(4)]

    # decision 1 at step 0 (both, prefix the hold), 2 at step 3 (both, prefix entries 1 and 2 of decision 1),
    # 3 at step 5 (env 1, restarted: prefix its new hold), 4 at step 6 (env 0), 5 at step 8 (env 1)
    assert calls == [
        ([0, 1], [[-1, -1], [-1, -1]]),
        ([0, 1], [[110, 120], [111, 121]]),
        ([1], [[-2, -2]]),
        ([0], [[210, 220]]),
        ([1], [[311, 321]]),
    ]
    raw = {
        0: [-1, -1, 100, 110, 120, 200, 210, 220, 400],
        1: [-1, -1, 101, 111, 121, -2, -2, 301, 311],
    }
    holds = {0: {0: -1.0}, 1: {0: -1.0, 5: -2.0}}  # the EMA's past at each reset
    for env in (0, 1):
        smoothed = []
        for step, action in enumerate(raw[env]):
            past = holds[env][step] if step in holds[env] else smoothed[-1]
            smoothed.append(0.5 * action + 0.5 * past)
        assert [row[env] for row in executed] == pytest.approx(smoothed)


def test_receding_horizon_execution_is_the_first_action_of_each_step():
    from distill.chunking import ChunkedExecutor

    chunks = torch.randn(5, 3, 2, 4)  # steps, envs, horizon, action

    def decide(env_ids, prefix):
        assert prefix.shape == (len(env_ids), 0, 4)
        return chunks[step][env_ids]

    executor = ChunkedExecutor(decide, num_envs=3, action_dim=4, chunk=2)
    for step in range(5):
        torch.testing.assert_close(executor(), chunks[step, :, 0])
    with pytest.raises(ValueError, match="1 <= execute <= chunk"):
        ChunkedExecutor(decide, num_envs=3, action_dim=4, chunk=2, execute=3)


def test_training_windows_hold_the_prefix_and_the_chunk_within_one_episode():
    from distill.chunking import windows
    from distill.dataset import DistillEpisode, training_pairs

    labels = torch.arange(6.0).view(6, 1, 1).repeat(1, 2, 1)  # steps 0..5, two envs
    labels[:, 1] += 100
    dones = torch.zeros(6, 2, dtype=torch.bool)
    dones[2, 1] = True  # env 1: an episode ends at step 2
    valid, spans = windows(labels, dones, 3)
    assert valid.tolist() == [[True, True], [True, False], [True, False], [True, True]]  # env 1: t = 1, 2 cross it
    assert spans[3, 1, :, 0].tolist() == [103, 104, 105]

    actions = np.arange(10.0).reshape(5, 2)
    episode = DistillEpisode(
        point_cloud=np.zeros((5, 4, 3)), proprio=np.arange(5.0)[:, None], states=np.zeros((5, 1)), actions=actions,
        rewards=np.zeros(5), dones=np.eye(5)[-1].astype(bool), success=True, grasp_type="pinch", object="dice",
    )  # fmt: skip
    pairs = training_pairs([episode], horizon=2, prefix=1)
    assert pairs["proprio"][:, 0].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(pairs["prefix"][:, 0], actions[:3])
    np.testing.assert_array_equal(pairs["actions"], np.stack((actions[1:4], actions[2:5]), axis=1))


@pytest.mark.parametrize("point_cloud, prefix", [(True, 0), (False, 2)], ids=["point_cloud", "state_prefix"])
def test_the_exported_student_acts_as_the_pytorch_one(tmp_path, point_cloud, prefix):
    import onnxruntime

    from distill.chunking import ChunkedExecutor
    from distill.export import export_student, input_names
    from distill.student import Student

    torch.manual_seed(0)
    horizon, execute = (6, 4) if prefix else (2, 1)
    student = Student(20, 7, horizon=horizon, prefix=prefix, execute=execute, ema_alpha=0.5, hidden_dims=(32, 32),
                      encoder_dims=(16,), feature_dim=32, point_cloud=point_cloud)  # fmt: skip
    for parameter in student.parameters():
        parameter.data.normal_(0.0, 0.3)
    jit_path, onnx_path = export_student(student, str(tmp_path), num_points=64 if point_cloud else 0)
    jit, session = torch.jit.load(jit_path), onnxruntime.InferenceSession(onnx_path)
    names = input_names(student)
    assert names == (["points", "proprio"] if point_cloud else ["proprio", "prefix"])
    recorded = [(torch.randn(3, 64, 3), torch.randn(3, 20)) for _ in range(12)]  # observations of 3 envs
    runs = {}
    for name, network in (
        ("torch", lambda named: student.act(named.get("points"), named["proprio"], named.get("prefix"))),
        ("jit", lambda named: jit(*(named[n] for n in names)).detach()),
        ("onnx", lambda named: torch.from_numpy(session.run(None, {n: named[n].numpy() for n in names})[0])),
    ):

        def decide(env_ids, committed):
            return network({"points": points[env_ids], "proprio": proprio[env_ids], "prefix": committed})

        executor = ChunkedExecutor(decide, 3, 7, horizon, prefix, execute, alpha=0.5)
        executor.reset(torch.arange(3), torch.zeros(3, 7))
        actions = []
        for points, proprio in recorded:
            actions.append(executor())
        runs[name] = torch.stack(actions)
    assert runs["torch"].abs().max() > 0.1
    torch.testing.assert_close(runs["jit"], runs["torch"], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(runs["onnx"], runs["torch"], atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A real (untrained) rsl-rl teacher checkpoint of the grasping task, and one labelled with another task."""
    from agents.ppo_runner import PPORunner
    from isaac_tasks import make_agent_cfg, make_env

    folder = tmp_path_factory.mktemp("teacher")
    env = make_env(TASK, num_envs=4)
    runner = PPORunner(env, make_agent_cfg(TASK), task=TASK)
    path = str(folder / "model_0.pt")
    runner.save(path)
    foreign = torch.load(path, weights_only=True)
    foreign["infos"]["task"] = "Orca-Cube-Rotate-v0"
    torch.save(foreign, folder / "orca.pt")
    return path, str(folder / "orca.pt")


TINY_CLOUD = ["--num_points", "32", "--camera_width", "12", "--camera_height", "9", "--num_threads", "1"]
TINY_ROUNDS = ["--num_envs", "3", "--episode_length_s", "0.6", "--keep_failed", *TINY_CLOUD]


def read_all(folder):
    from distill.dataset import load_dataset

    return load_dataset(folder, TASK)


def test_collection_resumes_after_an_interruption_without_loss_or_duplicates(tmp_path, teacher):
    from distill.dataset import shard_paths

    # killed while far from done (however fast the machine), then resumed to two rounds beyond
    command = [sys.executable, os.path.join(ROOT, "tools", "collect_distill.py"), "--teacher", teacher[0]]
    process = subprocess.Popen([*command, "--out", "run", *TINY_ROUNDS, "--max_rounds", "1000"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    while not os.path.exists(tmp_path / "run" / "shard_00001.hdf5") and process.poll() is None:
        time.sleep(0.01)
    process.kill()  # as hard as an interruption gets: no handler runs
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be interrupted"
    interrupted = len(shard_paths(str(tmp_path / "run")))
    assert interrupted >= 2
    rounds = ["--max_rounds", str(interrupted + 2)]
    resumed = tool("collect_distill.py", "--teacher", teacher[0], "--out", "run", *TINY_ROUNDS, *rounds, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming: {interrupted} rounds" in resumed.stdout
    reference = tool("collect_distill.py", "--teacher", teacher[0], "--out", "ref", *TINY_ROUNDS, *rounds, cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr

    assert [os.path.basename(p) for p in shard_paths(str(tmp_path / "run"))] == [
        f"shard_{k:05d}.hdf5" for k in range(interrupted + 2)
    ]
    expected, got = read_all(str(tmp_path / "ref")), read_all(str(tmp_path / "run"))
    assert len(got) == len(expected) == (interrupted + 2) * 3
    for a, b in zip(expected, got):
        assert a.object == b.object and len(a) == len(b)
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.point_cloud, b.point_cloud)
    first = got[0]
    assert first.point_cloud.shape == (len(first), 32, 3) and first.proprio.shape == (len(first), 76)
    assert first.dones[-1] and not first.dones[:-1].any()


def test_damaged_shards_are_refused_or_reported_and_skipped(tmp_path, teacher, capsys):
    from distill.dataset import DistillDataError, load_dataset

    result = tool(
        "collect_distill.py", "--teacher", teacher[0], "--out", "data", *TINY_ROUNDS, "--max_rounds", "3", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "data"
    with h5py.File(folder / "shard_00001.hdf5", "a") as f:  # a field with NaN
        f["data/demo_0/actions"][0, 0] = np.nan
    (folder / "shard_00002.hdf5").write_bytes(b"")  # an empty shard
    with pytest.raises(DistillDataError, match="shard_00001.hdf5.*NaN"):
        load_dataset(str(folder), TASK)
    episodes = load_dataset(str(folder), TASK, skip_damaged=True)
    assert len(episodes) == 3  # round 0 only
    warnings = capsys.readouterr().err
    assert "shard_00001.hdf5" in warnings and "shard_00002.hdf5" in warnings

    damaged = tool(
        "distill.py", "--teacher", teacher[0], "--dataset", str(folder), *TINY_CLOUD, "--log_dir", "run", cwd=tmp_path
    )
    assert damaged.returncode == 2 and "shard_00001.hdf5" in damaged.stderr and "Traceback" not in damaged.stderr
    assert not os.path.exists(tmp_path / "run")

    # With the damaged shards skipped, the rest is behaviour-cloned into a student checkpoint.
    cloned = tool(
        "distill.py", "--teacher", teacher[0], "--dataset", str(folder), "--skip_damaged", "--iterations", "0",
        "--bc_updates", "3", "--batch_size", "8", "--hidden_dims", "32", "--num_envs", "2", *TINY_CLOUD,
        "--log_dir", "run", cwd=tmp_path,
    )  # fmt: skip
    assert cloned.returncode == 0, cloned.stderr
    assert "skipping damaged shard" in cloned.stderr and "Behaviour cloning on" in cloned.stdout
    assert os.path.isfile(tmp_path / "run" / "student_0.pt")


def test_dagger_iterations_end_to_end_resume_and_evaluation(tmp_path, teacher):
    from distill.student import load_student

    args = [
        "--teacher",
        teacher[0],
        "--num_envs",
        "8",
        "--steps_per_iteration",
        "6",
        "--updates_per_iteration",
        "3",
        "--batch_size",
        "16",
        "--hidden_dims",
        "32",
        "32",
        "--p_teacher",
        "0.8",
        "--p_teacher_decay",
        "0.5",
        "--log_dir",
        "run",
        *TINY_CLOUD,
        *("--segment_body", "object"),  # the object's points alone
        *("--horizon", "3", "--prefix", "2", "--execute", "2", "--ema_alpha", "0.5"),  # SOFT-FLOW's real-time chunking
    ]
    first = tool("distill.py", *args, "--iterations", "2", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "iteration 0: p_teacher 0.800" in first.stdout and "iteration 1: p_teacher 0.400" in first.stdout
    assert glob.glob(str(tmp_path / "run" / "events.out.tfevents.*"))
    schedule = {"--p_teacher": "0.8", "--p_teacher_decay": "0.5"}  # the run's own, without the flags
    rest = [a for i, a in enumerate(args) if a not in schedule and (i == 0 or args[i - 1] not in schedule)]
    resumed = tool("distill.py", *rest, "--iterations", "1", "--resume", "run", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "iteration 2: p_teacher 0.200" in resumed.stdout

    student, saved = load_student(str(tmp_path / "run" / "student_2.pt"), TASK)
    assert saved["iter"] == 2 and saved["infos"]["point_cloud"]["num_points"] == 32
    assert saved["infos"]["point_cloud"]["segment_body"] == "object"  # play.py and evaluate.py mask alike
    assert (student.config["horizon"], student.config["prefix"], student.config["ema_alpha"]) == (3, 2, 0.5)
    assert student.flow.action_std.min() > 0  # normalization fitted from the teacher's labels
    assert student.config["state_dim"] == 2 * 23 + 13 and student.state_std.min() > 0  # the privileged-state head
    assert saved["infos"]["noise"]["proprio_offset_std"] == 0.0  # 000 perturbs cameras and points, not encoders

    # shipped beside its teacher: no optimizer state, the teacher named relative to the student
    from distill.student import read_student_checkpoint, ship_student

    (tmp_path / "ship").mkdir()
    shutil.copyfile(teacher[0], tmp_path / "ship" / os.path.basename(teacher[0]))
    shipped = ship_student(str(tmp_path / "run" / "student_2.pt"), str(tmp_path / "ship" / "student.pt"))
    raw = torch.load(shipped, weights_only=True)
    assert "optimizer" not in raw and raw["infos"]["teacher"] == [os.path.basename(teacher[0])]
    assert read_student_checkpoint(shipped)["infos"]["teacher"] == [
        str(tmp_path / "ship" / os.path.basename(teacher[0]))
    ]

    played = tool(
        "play.py",
        "--task",
        TASK,
        "--checkpoint",
        "run/student_2.pt",
        "--num_envs",
        "4",
        "--episodes",
        "4",
        "--num_threads",
        "1",
        cwd=tmp_path,
    )
    assert played.returncode == 0, played.stderr
    assert "success_rate:" in played.stdout
    assert sorted(os.listdir(tmp_path / "run" / "exported")) == ["student.onnx", "student.pt"]

    # a student given as the teacher, and a teacher given as the student to resume: one line each
    wrong = tool("distill.py", "--teacher", "run/student_2.pt", *TINY_CLOUD, "--log_dir", "wrong", cwd=tmp_path)
    assert wrong.returncode == 2 and "student_2.pt is not a policy checkpoint" in wrong.stderr
    wrong = tool("distill.py", "--teacher", teacher[0], "--resume", teacher[0], *TINY_CLOUD, cwd=tmp_path)
    assert wrong.returncode == 2 and "is not a student checkpoint" in wrong.stderr
    wrong = tool("distill.py", "--teacher", teacher[0], *TINY_CLOUD, "--segment_body", "lid", "--log_dir", "wrong", cwd=tmp_path)  # fmt: skip
    assert wrong.returncode == 2 and "scene has no body named 'lid'" in wrong.stderr
    assert "Traceback" not in wrong.stderr and not os.path.exists(tmp_path / "wrong")


def test_a_teacher_that_does_not_fit_its_task_is_refused(tmp_path, teacher):
    """A grasping checkpoint labelled as a cube-rotation one."""
    result = tool("distill.py", "--teacher", teacher[1], *TINY_CLOUD, cwd=tmp_path)
    assert result.returncode == 2 and "'Orca-Cube-Rotate-v0'" in result.stderr
    assert "Traceback" not in result.stderr and not os.path.exists(tmp_path / "logs")


FAMILY_TEACHERS = [os.path.join(ROOT, "checkpoints", f"leap_grasp_rfs_hand_arm_{f}.pt") for f in ("pinch", "power")]


def test_a_teacher_per_grasp_family_acts_on_the_objects_of_its_family():
    """The shipped pinch and power policies as one teacher over all twelve objects: each environment gets the
    actions of the policy of its object's family."""
    from agents.ppo_runner import CheckpointError
    from distill.teacher import load_teacher

    env, teacher, info = load_teacher(list(reversed(FAMILY_TEACHERS)), num_envs=24, num_threads=1)
    assert "trained_on" not in info and {o.grasp_type for o in env.objects} == {"pinch", "power"}
    family = [env.objects[i].grasp_type for i in env.object_index.tolist()]
    obs = env.reset()
    with torch.inference_mode():
        for _ in range(3):
            actions = teacher(obs)
            for name, policy in teacher.policies.items():
                mine = torch.tensor([f == name for f in family])
                torch.testing.assert_close(actions[mine], policy(obs)[mine])
            assert not torch.allclose(teacher.policies["pinch"](obs), teacher.policies["power"](obs))
            obs, _, _, _ = env.step(actions)

    with pytest.raises(CheckpointError, match="give one for each of pinch, power"):
        load_teacher([FAMILY_TEACHERS[0], FAMILY_TEACHERS[0]])
    with pytest.raises(CheckpointError, match="differs from .* in task or action settings"):
        load_teacher([os.path.join(ROOT, "checkpoints", "leap_grasp_rfs_hand_pinch.pt"), FAMILY_TEACHERS[1]])
    with pytest.raises(CheckpointError, match="was not trained on one grasp_type"):
        load_teacher([os.path.join(ROOT, "checkpoints", "leap_grasp_rfs_hand_arm.pt"), FAMILY_TEACHERS[1]])


def test_a_cube_rotation_teacher_distils_into_a_chunked_state_student(tmp_path):
    """003's cube student: no point cloud, the task's student observation, the teacher's own actions, a chunk of
    6 after 2 prefix actions with EMA 0.5; trained by DAgger, played and exported."""
    from agents.ppo_runner import PPORunner
    from distill.student import load_student
    from isaac_tasks import make_agent_cfg, make_env

    task = "Orca-Cube-Rotate-v0"
    env = make_env(task, num_envs=2, num_threads=1)
    assert env.student_observation().shape == (2, 4 * (env.num_actions + 7) + 2 * env.num_actions + 1)
    PPORunner(env, make_agent_cfg(task), task=task).save(str(tmp_path / "teacher.pt"))
    chunking = ["--horizon", "6", "--prefix", "2", "--execute", "4", "--ema_alpha", "0.5"]
    result = tool(
        "distill.py", "--teacher", "teacher.pt", "--num_envs", "4", "--steps_per_iteration", "12", "--iterations", "2",
        "--updates_per_iteration", "3", "--batch_size", "8", "--hidden_dims", "32", "--num_threads", "1",
        "--log_dir", "run", *chunking, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "iteration 1: p_teacher 0.999" in result.stdout
    student, saved = load_student(str(tmp_path / "run" / "student_1.pt"), task)
    assert not student.config["point_cloud"] and saved["infos"]["point_cloud"] is None
    assert student.config["proprio_dim"] == env.student_observation().shape[-1]
    assert student.config["action_dim"] == env.num_actions and student.config["prefix"] == 2
    assert saved["infos"]["noise"]["proprio_offset_std"] == 0.1 and student.config["state_dim"] == 0  # 003's noise
    played = tool(
        "play.py", "--task", task, "--checkpoint", "run/student_1.pt", "--num_envs", "2", "--episodes", "2",
        "--num_threads", "1", "--env", "episode_length_s=1.0", cwd=tmp_path,
    )  # fmt: skip
    assert played.returncode == 0, played.stderr
    assert "rotation_turns:" in played.stdout
    assert sorted(os.listdir(tmp_path / "run" / "exported")) == ["student.onnx", "student.pt"]
    # a point-cloud dataset (collect_distill.py) needs a task with flow-prior commands
    from agents.ppo_runner import CheckpointError
    from distill.teacher import load_teacher

    with pytest.raises(CheckpointError, match="no flow-prior commands"):
        load_teacher(str(tmp_path / "teacher.pt"), commands=True)


def test_the_state_head_learns_where_the_object_is_from_the_point_cloud():
    """The auxiliary privileged-state loss trains the encoder to locate the object (a cluster low on the table)
    under other points (a hand above it); the flow's condition gets that feature."""
    from distill.student import ObservationNoiseCfg, Student, train_student

    generator = torch.Generator().manual_seed(0)
    n, p = 512, 64
    objects = torch.rand(n, 3, generator=generator) * torch.tensor([1.0, 1.0, 0.3])
    points = torch.rand(n, p, 3, generator=generator) * torch.tensor([1.0, 1.0, 0.5]) + torch.tensor([0.0, 0.0, 0.5])
    points[:, :16] = objects.unsqueeze(1) + 0.02 * torch.randn(n, 16, 3, generator=generator)
    data = {"points": points, "proprio": torch.randn(n, 4, generator=generator), "states": objects}
    data["actions"] = objects.unsqueeze(1).repeat(1, 2, 1)
    student = Student(4, 3, hidden_dims=(32, 32), state_dim=3)
    student.fit_normalization(data["points"], data["proprio"], data["actions"], data["states"])
    optimizer = torch.optim.AdamW(student.parameters(), lr=3e-3)
    noise = ObservationNoiseCfg(point_std=0, point_offset_std=0, proprio_std=0, proprio_offset_std=0)
    first = train_student(student, optimizer, data, 20, 64, noise, generator)
    last = train_student(student, optimizer, data, 300, 64, noise, generator)
    assert set(last) == {"flow", "state"}
    assert last["state"] < 0.2 * first["state"], (first, last)  # normalized: 1 is knowing nothing
    with pytest.raises(ValueError, match="point-cloud feature"):
        Student(4, 3, point_cloud=False, state_dim=3)

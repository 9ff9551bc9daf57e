"""Demonstration files: format checks, scripted generation with interruption and resume, prior round trip."""

import json
import os
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import torch

from agents import prior_data
from agents.demonstrations import DemoFormatError, Episode, demo_format, load_demos, write_demos
from agents.flow_matching import FlowPrior, train_flow_prior
from isaac_tasks import make_prior_io

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "Leap-Grasp-v0"
FORMAT = demo_format(TASK)


def tool(*args, cwd, wait=True):
    command = [sys.executable, os.path.join(ROOT, "tools", "generate_demos.py"), "--task", TASK, *args]
    if not wait:
        return subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)


def episode(length=5, seed=0) -> Episode:
    rng = np.random.default_rng(seed)
    obs = {key: rng.normal(size=(length, width)) for key, width in FORMAT.obs.items()}
    return Episode(
        obs=obs,
        next_obs={key: np.concatenate((value[1:], rng.normal(size=(1, value.shape[1])))) for key, value in obs.items()},
        states=rng.normal(size=(length, FORMAT.state_dim)),
        actions=rng.normal(size=(length, 22)),
        rewards=rng.normal(size=length),
        dones=np.eye(length, dtype=np.int64)[-1],
        success=bool(seed % 2),
        grasp_type=("pinch", "power")[seed % 2],
        object=f"object_{seed}",
    )


def test_robomimic_layout_round_trip(tmp_path):
    path = str(tmp_path / "demos.hdf5")
    episodes = [episode(length=3 + i, seed=i) for i in range(12)]
    write_demos(path, TASK, episodes, env_args={"seed": 7})
    with h5py.File(path, "r") as f:
        data = f["data"]
        assert data.attrs["total"] == sum(len(e) for e in episodes) and data.attrs["format_version"] == 3
        assert json.loads(data.attrs["env_args"]) == {"env_name": TASK, "type": 2, "env_kwargs": {"seed": 7}}
        assert sorted(data) == sorted(f"demo_{i}" for i in range(12))  # robomimic takes every key for a demo
        demo = data["demo_3"]
        assert demo.attrs["num_samples"] == 6
        assert {"actions", "obs", "next_obs", "rewards", "dones", "states"} <= demo.keys()
        assert demo["rewards"].shape == (6,) and demo["dones"].shape == (6,) and demo["dones"][-1] == 1
        train, valid = ([name.decode() for name in f[f"mask/{key}"][()]] for key in ("train", "valid"))
        assert f["mask/train"].dtype.kind == "S"
    assert len(valid) == 1 and sorted(train + valid) == sorted(f"demo_{i}" for i in range(12))
    loaded = load_demos(path, TASK)
    assert len(loaded) == len(episodes)
    for a, b in zip(episodes, loaded, strict=True):
        for key in FORMAT.obs:
            np.testing.assert_allclose(b.obs[key], a.obs[key], rtol=1e-6)
            np.testing.assert_allclose(b.next_obs[key], a.next_obs[key], rtol=1e-6)
        for field in ("states", "actions", "rewards"):
            np.testing.assert_allclose(getattr(b, field), getattr(a, field), rtol=1e-6)
        np.testing.assert_array_equal(b.dones, a.dones)
        assert (b.success, b.grasp_type, b.object) == (a.success, a.grasp_type, a.object)
    # the split is deterministic and follows valid_fraction
    write_demos(str(tmp_path / "again.hdf5"), TASK, episodes, valid_fraction=0.25)
    with h5py.File(path, "r") as f, h5py.File(str(tmp_path / "again.hdf5"), "r") as g:
        assert len(g["mask/valid"]) == 3 and len(g["mask/train"]) == 9
    write_demos(str(tmp_path / "same.hdf5"), TASK, episodes)
    with h5py.File(path, "r") as f, h5py.File(str(tmp_path / "same.hdf5"), "r") as g:
        assert list(f["mask/valid"][()]) == list(g["mask/valid"][()])


def _masks(f, train, valid):
    del f["mask"]
    f["mask/train"], f["mask/valid"] = np.array(train, dtype="S"), np.array(valid, dtype="S")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: f["data/demo_1/obs"].__delitem__("joint_pos"), "/data/demo_1/obs/joint_pos is missing"),
        (lambda f: f["data/demo_0"].__delitem__("actions"), "/data/demo_0/actions is missing"),
        (lambda f: _replace(f, "data/demo_0/states", np.zeros((5, 3))), "/data/demo_0/states has shape (5, 3)"),
        (
            lambda f: _replace(f, "data/demo_1/obs/palm_pos", np.zeros((4, 3))),
            "/data/demo_1/obs/palm_pos has shape (4, 3)",
        ),
        (lambda f: _replace(f, "data/demo_0/actions", np.full((5, 22), np.nan)), "NaN"),
        (lambda f: [f["data"].__delitem__(k) for k in list(f["data"])], "holds no episodes"),
        (lambda f: f["data"].attrs.__setitem__("env_name", "Orca-Cube-Rotate-v0"), "expected 'Leap-Grasp-v0'"),
        (lambda f: f["data/demo_0"].attrs.__delitem__("grasp_type"), "attribute 'grasp_type' is missing"),
        # the robomimic layout
        (lambda f: f["data/demo_1/next_obs"].__delitem__("object_pos"), "/data/demo_1/next_obs/object_pos is missing"),
        (lambda f: f["data/demo_0"].__delitem__("next_obs"), "/data/demo_0/next_obs is missing"),
        (
            lambda f: _replace(f, "data/demo_1/next_obs/joint_vel", np.full((5, 23), np.nan)),
            "/data/demo_1/next_obs/joint_vel contains NaN",
        ),
        (lambda f: _replace(f, "data/demo_0/rewards", np.full(5, np.nan)), "/data/demo_0/rewards contains NaN"),
        (lambda f: _replace(f, "data/demo_1/rewards", np.zeros(4)), "/data/demo_1/rewards has shape (4,)"),
        (lambda f: _replace(f, "data/demo_0/dones", np.zeros(6)), "/data/demo_0/dones has shape (6,)"),
        (lambda f: _replace(f, "data/demo_0/dones", np.zeros(5)), "/data/demo_0/dones must be 0 or 1, and 1 at"),
        (
            lambda f: _replace(f, "data/demo_1/obs/joint_pos", np.zeros((6, 23))),
            "/data/demo_1/obs/joint_pos has shape (6, 23)",
        ),
        (
            lambda f: _replace(f, "data/demo_1/next_obs/palm_quat", np.zeros((4, 4))),
            "/data/demo_1/next_obs/palm_quat has shape (4, 4)",
        ),
        (lambda f: _replace(f, "data/demo_0/actions", np.zeros((5, 20))), "/data/demo_0/actions has shape (5, 20)"),
        (lambda f: _replace(f, "data/demo_0/actions", np.zeros((4, 22))), "/data/demo_0 num_samples is 5"),
        (lambda f: f["mask"].__delitem__("train"), "/mask/train is missing"),
        (lambda f: f.__delitem__("mask"), "/mask/train is missing"),
        (lambda f: f["mask"].__delitem__("valid"), "/mask/valid is missing"),
        (lambda f: _masks(f, ["demo_0", "demo_1"], ["demo_7"]), "/mask/valid names demo_7, which is not a demo"),
        (
            lambda f: _masks(f, ["demo_0", "demo_1"], ["demo_1"]),
            "/data/demo_1 is in /mask/train and again in /mask/valid",
        ),
        (lambda f: _masks(f, ["demo_1"], []), "/data/demo_0 is in neither /mask/train nor /mask/valid"),
        (lambda f: f["data"].create_group("extra"), "/data/extra is not a demo_<i> group"),
        (lambda f: f["data"].attrs.__setitem__("total", 3), "/data total is 3"),
        (lambda f: f["data"].attrs.__setitem__("env_args", "{}"), "env_args lacks robomimic's env_name"),
        (lambda f: f["data"].attrs.__setitem__("format_version", 1), "format version 1 (no next_obs"),
        (
            lambda f: f["data"].attrs.__setitem__("format_version", 2),
            "format version 2 (no object_geometry observation); regenerate it with tools/generate_demos.py",
        ),
        (lambda f: f["data/demo_0/obs"].__delitem__("object_geometry"), "/data/demo_0/obs/object_geometry is missing"),
    ],
)
def test_malformed_files_are_refused_naming_file_and_field(tmp_path, damage, message):
    path = str(tmp_path / "demos.hdf5")
    write_demos(path, TASK, [episode(seed=0), episode(seed=1)])
    assert len(load_demos(path, TASK)) == 2
    with h5py.File(path, "a") as f:
        damage(f)
    with pytest.raises(DemoFormatError) as error:
        load_demos(path, TASK)
    assert path in str(error.value) and message in str(error.value) and "\n" not in str(error.value)


def _replace(f, name, value):
    del f[name]
    f[name] = value


def test_training_refuses_a_bad_file_and_writes_nothing(tmp_path):
    path = tmp_path / "broken.hdf5"
    path.write_bytes(b"not hdf5")
    result = subprocess.run(
        [
            sys.executable,
            os.path.join(ROOT, "tools", "train_prior.py"),
            "--demos",
            str(path),
            "--log_root",
            str(tmp_path / "logs"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0 and str(path) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "logs").exists()


def test_generation_resumes_after_interruption_without_loss_or_duplicates(tmp_path):
    args = ["--num_demos", "6", "--num_envs", "3", "--seed", "4"]
    reference = tool(*args, "--out", str(tmp_path / "reference.hdf5"), cwd=tmp_path)
    assert reference.returncode == 0, reference.stderr
    out = tmp_path / "interrupted.hdf5"
    shards = tmp_path / "interrupted.hdf5.shards"
    process = tool(*args, "--out", str(out), cwd=tmp_path, wait=False)
    while not (shards / "round_0000.hdf5").exists():  # stop it once the first of two rounds is on disk
        assert process.poll() is None, "generation ended before it could be interrupted"
        time.sleep(0.05)
    process.kill()
    process.wait()
    assert not out.exists()
    resumed = tool(*args, "--out", str(out), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "Resuming: 1 of 2 rounds" in resumed.stdout
    expected, got = load_demos(str(tmp_path / "reference.hdf5"), TASK), load_demos(str(out), TASK)
    assert len(got) == 6
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_array_equal(a.obs["object_pos"], b.obs["object_pos"])
        np.testing.assert_array_equal(a.next_obs["object_pos"], b.next_obs["object_pos"])
        np.testing.assert_array_equal(a.rewards, b.rewards)
    assert not shards.exists()


def test_generate_load_train_push_round_trip(tmp_path):
    from assets.objects import object_set

    video = ["--video", "--video_length", "4", "--video_envs", "2", "--video_resolution", "32x24"]
    result = tool("--num_demos", "4", "--num_envs", "4", "--out", str(tmp_path / "d.hdf5"), *video, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    # the demonstrator filmed in a rollout of its own, next to the output by default
    assert f"Wrote {tmp_path / 'd.mp4'} (the scripted demonstrator)" in result.stdout
    assert mp4_frames(str(tmp_path / "d.mp4")).shape == (4, 24, 2 * 32 + 2, 3)
    episodes = load_demos(str(tmp_path / "d.hdf5"), TASK)
    assert len(episodes) == 4 and {e.grasp_type for e in episodes} <= {"pinch", "power"}
    shapes = ("box", "cylinder", "capsule", "sphere", "ellipsoid")
    for e, obj in zip(episodes, object_set(), strict=False):  # environment i holds object i
        geometry = e.obs["object_geometry"]
        assert e.object == obj.name and (geometry == geometry[0]).all()  # constant over the episode
        np.testing.assert_allclose(geometry[0], [*obj.size, *np.eye(5)[shapes.index(obj.shape)]], rtol=1e-6)
    assert all(np.abs(e.actions[:, :6]).max() <= 1.0 for e in episodes)  # arm deltas within the task's limits
    for e in episodes:
        assert e.rewards.shape == (len(e),) and e.dones.tolist() == [0] * (len(e) - 1) + [1]
        for key in FORMAT.obs:
            np.testing.assert_array_equal(e.next_obs[key][:-1], e.obs[key][1:])
        # the last next_obs is the terminal observation, one step on, not the reset state (fingers open, arm home)
        assert np.abs(e.next_obs["joint_pos"][-1] - e.obs["joint_pos"][-1]).max() < 0.1
    io = make_prior_io(TASK)
    for variant, spec in io.variants.items():
        cond, actions = prior_data.dataset(io, variant, episodes)
        assert cond.shape[1] == spec["cond_dim"] and actions.shape[1:] == (2, spec["action_dim"])
        assert len(cond) == sum(len(e) - 1 for e in episodes)
        if variant == "hand_arm":  # object pose, geometry, joint positions, joint velocities
            e = episodes[0]
            np.testing.assert_allclose(cond[: len(e) - 1, 7:15].numpy(), e.obs["object_geometry"][:-1])
            np.testing.assert_allclose(cond[: len(e) - 1, 15:38].numpy(), e.obs["joint_pos"][:-1])
        chunks = prior_data.dataset(io, variant, episodes, horizon=3)[1]
        assert chunks.shape == (sum(len(e) - 2 for e in episodes), 3, spec["action_dim"])
        torch.testing.assert_close(chunks[:, :2], actions[_windows(episodes, 3)])
        model = FlowPrior(horizon=2, hidden_dims=(64, 64), **spec)
        losses = train_flow_prior(
            model, cond, actions, num_steps=200, batch_size=128, generator=torch.Generator().manual_seed(0)
        )
        assert losses[-1] < losses[0]
        path = str(tmp_path / f"{variant}.pt")
        model.save(path, {"variant": variant})
        loaded, metadata = FlowPrior.load(path)
        a0 = torch.randn(len(cond[:8]), 2, spec["action_dim"])
        torch.testing.assert_close(loaded.push(cond[:8], a0), model.push(cond[:8], a0))
        assert metadata["variant"] == variant


def _windows(episodes, horizon):
    """Indices, among the horizon-2 windows, of the windows that start a horizon-`horizon` one."""
    index, start = [], 0
    for e in episodes:
        index += range(start, start + len(e) - horizon + 1)
        start += len(e) - 1
    return torch.tensor(index)


def mp4_frames(path: str) -> np.ndarray:
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(path)
    width, height = next(reader)["size"]
    return np.stack([np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in reader])


@pytest.mark.parametrize("task", ("Leap-Grasp-v0", "Orca-Grasp-v0"))
def test_scripted_hand_closes_without_fingers_through_each_other(task):
    from isaac_tasks import make_env
    from isaac_tasks.grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg

    cfg = ScriptedGraspCfg()
    env = make_env(task, num_envs=12, seed=0, action_space="abs_joint")
    script = ScriptedGrasp(env, cfg, torch.Generator().manual_seed(0))
    script.reset(torch.arange(env.num_envs))
    low, high = env.finger_limits.unbind(-1)

    def overlap(fingers: torch.Tensor) -> np.ndarray:
        qpos = np.tile(script.meter.model.qpos0, (len(fingers), 1))
        qpos[:, script.finger_adr] = torch.clamp(fingers, low, high).numpy()
        return script.meter.measure(qpos).hand_hand

    closing = torch.linspace(0.0, cfg.max_closure, 12)[:, None, None]
    planned = script._synergies
    assert (overlap((closing * planned).reshape(-1, env.num_finger_joints)) <= cfg.max_finger_overlap + 1e-9).all()
    # every environment closes one of these synergies
    assert all(any(torch.equal(row, p) for p in planned) for row in script.synergy)
    if task == "Leap-Grasp-v0":  # the unrestricted LEAP power synergy at full closure puts fingers through each other
        assert overlap(cfg.max_closure * torch.tensor(env.hand.synergies["wrap"])[None]).max() > 0.005


def test_a_fingertip_blocked_by_the_table_lifts_the_palm_and_is_no_touch():
    """Pinching the flat eraser, fingertips sweep down to the table first: the palm rises while one is stalled
    there, and a finger counts as touching only by touching the object or stalling above the table."""
    from isaac_tasks import make_env
    from isaac_tasks.grasp.scripted_grasp import CLOSE, ScriptedGrasp, ScriptedGraspCfg

    cfg = ScriptedGraspCfg(max_tries=1)
    env = make_env("Leap-Grasp-v0", num_envs=24, seed=0, grasp_type="pinch", action_space="abs_joint")
    eraser = env.object_index == [o.name for o in env.objects].index("eraser")
    script = ScriptedGrasp(env, cfg, torch.Generator().manual_seed(0))
    env.reset()
    script.reset(torch.arange(env.num_envs))
    tips = script.closure.shape[1]
    risen = torch.zeros(env.num_envs)
    with torch.inference_mode():
        for _ in range(70):
            touched, height = script.touched.clone(), script.grasp_pos[:, 2].clone()
            s = env.physics.state  # what the next command reads
            closing = script.phase == CLOSE
            on_table = (s.site_pos[:, 1 : 1 + tips, 2] < cfg.tip_clearance) & ~s.in_contact[:, :tips]
            env.step(script())
            assert not (script.touched & ~touched & on_table).any(), "a stall on the table taken for a touch"
            risen += torch.where(closing, script.grasp_pos[:, 2] - height, 0.0)
            assert (script.grasp_pos[:, 2] - height)[
                ~closing
            ].abs().max() < 1e-9  # the palm plan moves while closing only
    assert risen[eraser].max() >= 2 * cfg.rise_speed, "no fingertip on the table lifted the palm"


def test_scripted_grasps_lift_every_object_and_never_drive_fingers_through_each_other():
    """Five planned grasps of each of the 12 objects (both families, disturbances on): each object is
    lifted at least once, and no finger target the script sends would overlap fingers in free air."""
    from isaac_tasks import make_env
    from isaac_tasks.grasp.scripted_grasp import ScriptedGrasp, ScriptedGraspCfg

    cfg = ScriptedGraspCfg()
    env = make_env("Leap-Grasp-v0", num_envs=60, seed=0, action_space="abs_joint")
    script = ScriptedGrasp(env, cfg, torch.Generator().manual_seed(0))
    env.reset()
    finished = torch.zeros(env.num_envs, dtype=torch.bool)
    lifted = torch.zeros(env.num_envs)
    worst_target_overlap = 0.0
    with torch.inference_mode():
        while not finished.all():
            actions = script()
            qpos = np.tile(script.meter.model.qpos0, (env.num_envs, 1))
            qpos[:, script.finger_adr] = script.fingers.numpy()
            overlap = script.meter.measure(qpos).hand_hand[(~finished).numpy()]
            worst_target_overlap = max(worst_target_overlap, float(overlap.max(initial=0.0)))
            _, _, dones, _ = env.step(actions)
            height = env.physics.state.body_pos[:, 0, 2] - env.object_rest_height
            lifted = torch.where(finished, lifted, torch.maximum(lifted, height))
            finished |= dones
    assert worst_target_overlap <= cfg.max_finger_overlap + 1e-6
    for k, obj in enumerate(env.objects):
        assert lifted[env.object_index == k].max() > 0.05, f"{obj.name} was never lifted"


def test_train_prior_evaluates_the_prior_alone_with_penetration(demos, tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "train_prior.py"), "--demos", demos, "--variant", "hand_arm",
         "--include_failed", "--num_steps", "20", "--batch_size", "32", "--eval_episodes", "4", "--num_envs", "4", "--horizon", "3",
         "--log_root", str(tmp_path), "--video", "--video_length", "5", "--video_envs", "2",
         "--video_resolution", "32x24"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    (report,) = tmp_path.glob("hand_arm/*/eval.json")
    results = json.loads(report.read_text())
    assert results["episodes"] == 4 and 0.0 <= results["success_rate"] <= 1.0
    assert 0.0 <= results["infeasible_fraction"] <= 1.0 and results["horizon"] == 3
    (checkpoint,) = tmp_path.glob("hand_arm/*/prior_20.pt")
    assert FlowPrior.load(str(checkpoint))[0].horizon == 3
    video = checkpoint.parent / "prior.mp4"  # the default path: the prior acting alone in its evaluation
    assert f"Wrote {video} (5 frames" in result.stdout
    assert mp4_frames(str(video)).shape == (5, 24, 2 * 32 + 2, 3)


def test_prior_alone_replans_every_horizon_steps_and_executes_its_chunks():
    from isaac_tasks import make_env

    env = make_env(TASK, num_envs=3, num_threads=1, action_space="abs_joint", episode_length_s=0.35)  # 7 steps
    model = FlowPrior(horizon=3, hidden_dims=(16,), **env.prior_io.variants["hand_arm"])
    sampled, sample = [], model.sample

    def counting_sample(cond, generator=None):
        sampled.append(sample(cond, generator))
        return sampled[-1]

    model.sample = counting_sample
    policy = prior_data.PriorPolicy(model, "hand_arm", env, generator=torch.Generator().manual_seed(0))
    planned_at = []
    with torch.no_grad():
        env.reset()
        for step in range(14):  # two episodes each
            calls = len(sampled)
            action = policy()
            if len(sampled) > calls:
                planned_at.append(step)
            chunk = sampled[-1]
            arm, fingers = env.prior_io.arm_and_fingers("hand_arm", chunk[:, (step % 7) % 3])
            torch.testing.assert_close(action[:, :6], arm)  # the chunk's actions, one after the other
            env.step(action)
    assert planned_at == [0, 3, 6, 7, 10, 13] and policy.plans == 6  # each episode: steps 0, 3, 6
    assert all(len(chunk) == 3 for chunk in sampled)

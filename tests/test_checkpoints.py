"""The shipped checkpoints (checkpoints/): each loads and evaluates as the README says; damaged copies are refused."""

import glob
import json
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "checkpoints")
PRIORS = sorted(glob.glob(os.path.join(SHIPPED, "*prior*.pt")))
STUDENTS = sorted(glob.glob(os.path.join(SHIPPED, "*student*.pt")))
POLICIES = sorted(set(glob.glob(os.path.join(SHIPPED, "*.pt"))) - set(PRIORS) - set(STUDENTS))


def tool(name, *args, cwd):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", name), *args], cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_the_readme_table_lists_every_shipped_file():
    table = open(os.path.join(SHIPPED, "README.md")).read()
    assert POLICIES and PRIORS
    for path in POLICIES + PRIORS + STUDENTS:
        assert f"`{os.path.basename(path)}`" in table, os.path.basename(path)


@pytest.mark.parametrize("path", PRIORS, ids=os.path.basename)
def test_shipped_priors_load_as_their_variant(path):
    from agents import prior_data
    from agents.flow_matching import FlowPrior
    from isaac_tasks import make_prior_io

    prior, metadata = FlowPrior.load(path)
    variant = metadata["variant"]
    task = metadata["task"]
    prior_data.check_prior(path, prior.config, metadata, task, make_prior_io(task), variant, "this test")
    assert f"prior_{variant}.pt" in os.path.basename(path)


@pytest.mark.parametrize("path", POLICIES, ids=os.path.basename)
def test_shipped_policies_evaluate_from_any_folder(path, tmp_path):
    from agents.ppo_runner import read_checkpoint
    from isaac_tasks import env_class

    info = read_checkpoint(path)["infos"]
    if info.get("prior_checkpoint"):  # named relative to the policy, so found from any folder
        assert os.path.isfile(info["prior_checkpoint"]) and os.path.dirname(info["prior_checkpoint"]) == SHIPPED
    args = ["--task", info["task"], "--checkpoint", path, "--num_envs", "4", "--episodes", "4"]
    result = tool("evaluate.py", *args, "--sweep", "4", "--sweep_episodes", "4", "--out", "eval", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((tmp_path / "eval" / "report.json").read_text())["checkpoints"].values()
    metric = env_class(info["task"]).primary_metric
    assert entry["robustness"]["metric"] == metric and entry["robustness"]["scale"] == [4.0]
    assert all(0.0 <= entry["metrics"][key] <= 1.0 for key in entry["metrics"] if key.endswith("_rate"))


@pytest.mark.parametrize("path", STUDENTS, ids=os.path.basename)
def test_shipped_students_evaluate_from_any_folder_and_name_their_shipped_teacher(path, tmp_path):
    from distill.student import read_student_checkpoint

    saved = read_student_checkpoint(path)
    assert "optimizer" not in saved and saved["infos"]["teacher"]
    assert all(os.path.dirname(t) == SHIPPED and os.path.isfile(t) for t in saved["infos"]["teacher"])
    args = ["--task", saved["infos"]["task"], "--checkpoint", path, "--num_envs", "4", "--episodes", "4"]
    result = tool("evaluate.py", *args, "--sweep", "4", "--sweep_episodes", "4", "--out", "eval", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (entry,) = json.loads((tmp_path / "eval" / "report.json").read_text())["checkpoints"].values()
    assert 0.0 <= entry["metrics"]["success_rate"] <= 1.0 and entry["robustness"]["scale"] == [4.0]


@pytest.mark.parametrize("path", POLICIES + PRIORS + STUDENTS, ids=os.path.basename)
def test_a_truncated_copy_is_refused_in_one_line(path, tmp_path):
    damaged = tmp_path / os.path.basename(path)
    damaged.write_bytes(open(path, "rb").read()[: os.path.getsize(path) // 2])
    if "prior" in damaged.name:
        args = ["--task", "Leap-Grasp-v0", "--action_space", "rfs_hand_arm", "--prior_checkpoint", str(damaged)]
        result = tool("train.py", *args, "--num_envs", "2", "--max_iterations", "1", cwd=tmp_path)
    else:
        args = ["--task", "Leap-Grasp-v0", "--checkpoint", str(damaged), "--num_envs", "2", "--episodes", "2"]
        result = tool("evaluate.py", *args, "--out", "eval", cwd=tmp_path)
    assert result.returncode == 2 and "unreadable or corrupt" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "eval").exists() and not (tmp_path / "logs").exists()


def test_a_prior_of_the_wrong_variant_is_refused(tmp_path):
    hand = os.path.join(SHIPPED, "leap_grasp_prior_hand.pt")
    args = ["--task", "Leap-Grasp-v0", "--action_space", "rfs_hand_arm", "--prior_checkpoint", hand]
    result = tool("train.py", *args, "--num_envs", "2", "--max_iterations", "1", cwd=tmp_path)
    assert result.returncode == 2 and "needs a 'hand_arm' prior" in result.stderr
    assert not (tmp_path / "logs").exists()
    assert torch.load(hand, weights_only=True)["metadata"]["variant"] == "hand"

"""The demonstrator's calibration by simulation (isaac_tasks/grasp/grasp_calibration.py)."""

import os
import subprocess
import sys

import torch

from isaac_tasks import make_env
from isaac_tasks.grasp.grasp_calibration import MIN_HALF_WIDTH, MIN_WEIGHT, calibrate, narrowed, search_box

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_narrowed_ranges_follow_the_best_plans_inside_the_box():
    box = search_box("wrap")
    plans = torch.zeros(40, 7)
    plans[:, 0] = torch.linspace(-0.03, 0.07, 40)  # along
    scores = plans[:, 0].clamp(min=0.0)  # the farther along the fingers, the better the plan
    ranges = narrowed(box, plans, scores, elite_fraction=0.25)
    low, high = ranges.along
    assert 0.04 < low < high <= box.along[1] and high - low >= 2 * MIN_HALF_WIDTH["along"] - 1e-9
    assert ranges.depth == box.depth  # a range the strategy does not use stays as it is


def test_calibration_returns_weighted_ranges_for_every_shape_class_of_the_family():
    env = make_env("Leap-Grasp-v0", num_envs=12, seed=0, grasp_type="power", action_space="abs_joint")
    result = calibrate(env, "power", rounds=1, seed=0, log=lambda _: None)
    assert len(result["success_per_round"]) == 2
    shapes = {"box", "cylinder", "capsule", "sphere", "ellipsoid"}
    assert set(result["ranges"]) == {f"{s}/{shape}" for s in ("wrap", "claw") for shape in shapes}
    for ranges in result["ranges"].values():
        assert MIN_WEIGHT <= ranges["weight"] <= 1.0
        assert all(ranges[key][0] <= ranges[key][1] for key in ranges if key != "weight")


def test_tool_refuses_a_shape_class_the_family_does_not_have(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "calibrate_grasps.py"), "--task", "Leap-Grasp-v0", "--family", "power", "--num_envs", "12",
         "--rounds", "1", "--shapes", "flat_box", "--out", str(tmp_path / "c.json")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2 and "flat_box" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "c.json").exists()

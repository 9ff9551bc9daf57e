"""The recorded reference motion of the embedded backend (tests/backend_reference.py), which the Isaac Lab backend
is held to in its own venv, is what the embedded backend does now."""

import json

import pytest
import torch

from backend_reference import GOLDEN, record

pytest.importorskip("mujoco.batch")


def test_the_embedded_backend_still_moves_as_recorded():
    with open(GOLDEN) as f:
        golden = json.load(f)
    found = record()
    assert not found["any_contact"]
    for key in ("start", "joint_pos", "object_height"):
        torch.testing.assert_close(torch.tensor(found[key]), torch.tensor(golden[key]), rtol=0, atol=1e-5)

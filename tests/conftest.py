import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
torch.set_num_threads(1)


@pytest.fixture(scope="module")
def grasp_env():
    from isaac_tasks import make_env

    return make_env("Leap-Grasp-v0", num_envs=24, seed=3)

"""The PCA baseline (paper 000, A.2.3): RL explores 4 principal components of the demonstrated finger motion.

Action: the arm command + 4 (component coordinates in [-1, 1], mapped onto the min/max range of the
demonstrations' coordinates). Finger targets = mean + coordinates @ components.
"""

from __future__ import annotations

import torch

from agents.demonstrations import load_demos
from isaac_tasks.action_spaces import ActionSpace


class FingerPCA:
    """Principal components of finger targets (M, F) and the range of their coordinates."""

    def __init__(self, finger_targets: torch.Tensor, num_components: int):
        if not 1 <= num_components <= finger_targets.shape[-1]:
            raise ValueError(f"num_pca_components must be in [1, {finger_targets.shape[-1]}], got {num_components}")
        self.mean = finger_targets.mean(dim=0)
        _, _, vh = torch.linalg.svd(finger_targets - self.mean, full_matrices=False)
        self.components = vh[:num_components]  # (k, F), orthonormal rows
        coords = self.encode(finger_targets)
        self.low, self.high = coords.min(dim=0).values, coords.max(dim=0).values

    def encode(self, finger_targets: torch.Tensor) -> torch.Tensor:
        return (finger_targets - self.mean) @ self.components.T

    def decode(self, coords: torch.Tensor) -> torch.Tensor:
        return self.mean + coords @ self.components


class PCAFingerSpace(ActionSpace):
    settings = ("demos_path", "num_pca_components")

    def __init__(self, env):
        super().__init__(env)
        cfg = env.cfg
        if not cfg.demos_path:
            raise ValueError("action space 'pca' needs demonstrations: set demos_path (tools/generate_demos.py)")
        episodes = load_demos(cfg.demos_path, cfg.task_id)
        arm = env.num_arm_actions
        fingers = torch.cat([torch.from_numpy(e.actions[:, arm:]) for e in episodes]).float()
        self.pca = FingerPCA(fingers.to(env.device), cfg.num_pca_components)
        self.num_actions = arm + cfg.num_pca_components

    @classmethod
    def inputs(cls) -> dict[str, str]:
        return {"demos_path": "demos"}

    @classmethod
    def check_input(cls, task: str, setting: str, path: str) -> None:
        load_demos(path, task)

    def __call__(self, actions):
        actions = actions.clamp(-1.0, 1.0)
        arm = self.env.num_arm_actions
        coords = self.pca.low + 0.5 * (actions[:, arm:] + 1.0) * (self.pca.high - self.pca.low)
        return actions[:, :arm], self.clamp_fingers(self.pca.decode(coords))

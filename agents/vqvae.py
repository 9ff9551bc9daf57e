"""The VQ-VAE baseline (paper 000, A.2.3, after Xue et al. 2025): a codebook of coordinated finger motions.

A 1D-CNN encodes the previous finger pose and the next two finger targets into one 8-dim latent per
step, each snapped to the nearest of `num_codes` codebook vectors; a GRU decoder, started from the
previous pose, turns the two codes into the next two finger targets. RL steers the latent of both steps
(each again snapped to the codebook), plus a residual shared across both steps, and executes the two
decoded targets before its next decision.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from agents.demonstrations import load_demos
from agents.flow_matching import MIN_STD
from agents.ppo_runner import build_saved, load_saved, save_atomically
from isaac_tasks.action_spaces import ChunkedActionSpace

HORIZON = 2


class FingerVQVAE(nn.Module):
    def __init__(
        self, num_fingers: int, code_dim: int = 8, num_codes: int = 64, hidden_dim: int = 128, commitment: float = 0.25
    ):
        super().__init__()
        n = num_fingers
        self.config = {"num_fingers": n, "code_dim": code_dim, "num_codes": num_codes, "hidden_dim": hidden_dim}
        self.config["commitment"] = commitment
        # Time runs along the conv axis: [previous pose, target 1, target 2] -> one latent per target.
        self.encoder = nn.Sequential(
            nn.Conv1d(n, hidden_dim, kernel_size=2),
            nn.Mish(),
            nn.Conv1d(hidden_dim, hidden_dim, kernel_size=1),
            nn.Mish(),
            nn.Conv1d(hidden_dim, code_dim, kernel_size=1),
        )
        self.codebook = nn.Parameter(torch.randn(num_codes, code_dim))
        self.initial_hidden = nn.Sequential(nn.Linear(n, hidden_dim), nn.Tanh())
        self.decoder = nn.GRU(code_dim, hidden_dim, batch_first=True)
        self.head = nn.Linear(hidden_dim, n)
        self.register_buffer("pose_mean", torch.zeros(n))
        self.register_buffer("pose_std", torch.ones(n))

    def fit_normalization(self, poses: torch.Tensor) -> None:
        self.pose_mean.copy_(poses.mean(0))
        self.pose_std.copy_(poses.std(0).clamp_min(MIN_STD))

    def encode(self, previous: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """(B, 2, code_dim) continuous latents of previous poses (B, F) and targets (B, 2, F)."""
        sequence = torch.cat((previous[:, None], targets), dim=1)
        return self.encoder(((sequence - self.pose_mean) / self.pose_std).transpose(1, 2)).transpose(1, 2)

    def quantize(self, latents: torch.Tensor) -> torch.Tensor:
        """Each latent (..., code_dim) replaced by its nearest codebook vector."""
        flat = latents.reshape(-1, latents.shape[-1])
        index = torch.cdist(flat, self.codebook).argmin(dim=-1)
        return self.codebook[index].view_as(latents)

    def decode(self, previous: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
        """(B, 2, F) finger targets from previous poses (B, F) and codes (B, 2, code_dim)."""
        previous_norm = (previous - self.pose_mean) / self.pose_std
        hidden, _ = self.decoder(codes, self.initial_hidden(previous_norm)[None])
        return (previous_norm[:, None] + self.head(hidden)) * self.pose_std + self.pose_mean

    def loss(self, previous: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(training loss, reconstruction error in normalized units) with the straight-through estimator."""
        latents = self.encode(previous, targets)
        codes = self.quantize(latents)
        straight_through = latents + (codes - latents).detach()
        error = (((self.decode(previous, straight_through) - targets) / self.pose_std) ** 2).mean()
        codebook = ((codes - latents.detach()) ** 2).mean()
        commitment = ((latents - codes.detach()) ** 2).mean()
        return error + codebook + self.config["commitment"] * commitment, error.detach()

    @torch.no_grad()
    def restart_dead_codes(self, latents: torch.Tensor, generator: torch.Generator | None = None) -> int:
        """Move codes no latent of the batch chose onto random latents of the batch; returns how many moved."""
        flat = latents.reshape(-1, latents.shape[-1])
        used = torch.zeros(len(self.codebook), dtype=torch.bool, device=flat.device)
        used[torch.cdist(flat, self.codebook).argmin(dim=-1)] = True
        dead = (~used).nonzero().squeeze(-1)
        pick = torch.randint(len(flat), (len(dead),), generator=generator, device=flat.device)
        self.codebook[dead] = flat[pick]
        return len(dead)

    def save(self, path: str, metadata: dict | None = None) -> None:
        save_atomically({"config": self.config, "state_dict": self.state_dict(), "metadata": metadata or {}}, path)

    @classmethod
    def load(cls, path: str) -> tuple[FingerVQVAE, dict]:
        """Rebuild a saved VQ-VAE; raises CheckpointError naming `path` for a missing, corrupt or foreign file."""
        saved = load_saved(path, "VQ-VAE checkpoint", {"config", "state_dict", "metadata"})
        model = build_saved(cls, saved, path, "VQ-VAE checkpoint")
        return model, saved["metadata"]


def demo_pairs(demos_path: str, task: str, num_fingers: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(previous finger poses (M, F), next two finger targets (M, 2, F)) of every demonstration step pair of a
    `task` whose actions and joint positions end with its `num_fingers` finger joints."""
    previous, targets = [], []
    for e in load_demos(demos_path, task):
        fingers = torch.from_numpy(e.actions[:, -num_fingers:]).float()
        pose = torch.from_numpy(e.obs["joint_pos"][:, -num_fingers:]).float()
        if len(e) >= HORIZON:
            previous.append(pose[:-1])
            targets.append(torch.stack((fingers[:-1], fingers[1:]), dim=1))
    if not previous:
        raise ValueError(f"{demos_path}: no demonstration has two or more steps")
    return torch.cat(previous), torch.cat(targets)


def train_vqvae(
    model: FingerVQVAE,
    previous: torch.Tensor,
    targets: torch.Tensor,
    num_steps: int,
    batch_size: int = 512,
    lr: float = 1e-3,
    restart_interval: int = 200,
    generator: torch.Generator | None = None,
    log_fn: Callable[[int, float, float], None] | None = None,
) -> list[float]:
    """Adam on the VQ-VAE loss, codebook seeded from encoder outputs and dead codes restarted every
    `restart_interval` steps; returns the reconstruction error per step. `log_fn(step, loss, error)`."""
    model.fit_normalization(torch.cat((previous, targets.flatten(0, 1))))
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    errors = []
    for step in range(num_steps):
        index = torch.randint(len(previous), (batch_size,), generator=generator)
        if step % restart_interval == 0 and step < num_steps // 2:
            with torch.no_grad():
                model.restart_dead_codes(model.encode(previous[index], targets[index]), generator)
        loss, error = model.loss(previous[index], targets[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        errors.append(error.item())
        if log_fn is not None:
            log_fn(step, loss.item(), errors[-1])
    model.eval()
    return errors


class VQVAEFingerSpace(ChunkedActionSpace):
    """Arm command + 8 x 2 (latents, [-1, 1] mapped onto the codebook's range) + finger residual (both steps):
    6 + 8 x 2 + 16 with the LEAP hand and arm.

    Table 2 lists 6 + 8 x 2; the appendix adds the shared residual, which `vqvae_residual=False` drops.
    """

    chunk_length = HORIZON
    settings = ("vqvae_checkpoint", "vqvae_residual", "residual_finger_scale")

    def __init__(self, env):
        super().__init__(env)
        cfg = env.cfg
        if not cfg.vqvae_checkpoint:
            raise ValueError("action space 'vqvae' needs a VQ-VAE: set vqvae_checkpoint (tools/train_vqvae.py)")
        self.model, metadata = FingerVQVAE.load(cfg.vqvae_checkpoint)
        if metadata.get("task") != cfg.task_id or self.model.config["num_fingers"] != env.num_finger_joints:
            raise ValueError(
                f"{cfg.vqvae_checkpoint} is a VQ-VAE of {metadata.get('task')} with {self.model.config['num_fingers']} "
                f"fingers, not of {cfg.task_id} with {env.num_finger_joints}"
            )
        self.model.to(env.device).eval().requires_grad_(False)
        code_dim = self.model.config["code_dim"]
        self.latent_dims = HORIZON * code_dim
        self.residual_dim = env.num_finger_joints if cfg.vqvae_residual else 0
        self.num_actions = env.num_arm_actions + self.latent_dims + self.residual_dim
        self.residual_dims = list(range(self.num_actions - self.residual_dim, self.num_actions))
        self.low, self.high = self.model.codebook.min(dim=0).values, self.model.codebook.max(dim=0).values

    @classmethod
    def inputs(cls) -> dict[str, str]:
        return {"vqvae_checkpoint": "vqvae"}

    @classmethod
    def check_input(cls, task: str, setting: str, path: str) -> None:
        _, metadata = FingerVQVAE.load(path)
        if metadata.get("task") != task:
            raise ValueError(f"{path} is a VQ-VAE of {metadata.get('task')}, not of {task}")

    def plan(self, actions: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
        """Decoded finger targets (n, 2, F) of the fresh environments' latents, from their current pose."""
        arm = self.env.num_arm_actions
        raw = actions[fresh, arm : arm + self.latent_dims].clamp(-1.0, 1.0)
        latents = self.low + 0.5 * (raw.view(len(raw), HORIZON, -1) + 1.0) * (self.high - self.low)
        pose = self.env.physics.state.joint_pos[fresh, -self.env.num_finger_joints :]
        with torch.no_grad():
            return self.model.decode(pose, self.model.quantize(latents))

    def __call__(self, actions):
        fingers = self.chunk_step(actions)
        if self.residual_dim:
            fingers = fingers + actions[:, -self.residual_dim :].clamp(-1.0, 1.0) * self.env.cfg.residual_finger_scale
        return actions[:, : self.env.num_arm_actions].clamp(-1.0, 1.0), self.clamp_fingers(fingers)

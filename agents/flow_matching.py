"""Conditional flow-matching prior over short action chunks: the v(a_t, t, s) that RFS steers (SPEC 3).

Time convention, the only one used here: t = 0 is noise, t = 1 is data.

- Training (conditional flow matching, rectified-flow path): a0 ~ N(0, I), t ~ U[0, 1],
  a_t = (1 - t) a0 + t a, loss E ||v(a_t, t, s) - (a - a0)||^2.
- Push(s, a0): K Euler steps a^{k+1} = a^k + dt v(a^k, t_k, s), t_k = k / K, dt = 1 / K, from a^0 = a0.
- Inversion: a0 = argmin ||Push(s, a0) - a|| (SPEC 8), by Adam on a0.

Conditions and actions are normalized per dimension with statistics fitted from data and kept as buffers;
the latent a0 lives in the normalized action space, so N(0, I) matches the data's scale in every dimension.
`push`, `sample` and `invert` take and return actions in their own (de-normalized) units.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import torch
from torch import nn

from agents.ppo_runner import build_saved, load_saved, save_atomically

MIN_STD = 1e-3  # floor for per-dimension std, so constant dimensions do not blow up the normalization


def time_embedding(t: torch.Tensor, dim: int, max_freq: float = 100.0) -> torch.Tensor:
    """Sinusoidal features of t in [0, 1], (B,) -> (B, dim), frequencies geometric from 1 to max_freq."""
    freqs = torch.exp(torch.linspace(0.0, math.log(max_freq), dim // 2, device=t.device, dtype=t.dtype))
    angles = t[:, None] * freqs
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


class FlowPrior(nn.Module):
    """Velocity field v(a_t, t, s) over `horizon` consecutive actions of `action_dim`, conditioned on s."""

    def __init__(
        self,
        action_dim: int,
        cond_dim: int,
        horizon: int = 2,
        hidden_dims: Sequence[int] = (512, 512, 512),
        num_steps: int = 10,
        time_embed_dim: int = 32,
    ):
        super().__init__()
        if time_embed_dim % 2:
            raise ValueError(f"time_embed_dim must be even (sine and cosine pairs), got {time_embed_dim}")
        self.config = {
            "action_dim": action_dim,
            "cond_dim": cond_dim,
            "horizon": horizon,
            "hidden_dims": list(hidden_dims),
            "num_steps": num_steps,
            "time_embed_dim": time_embed_dim,
        }
        self.action_dim, self.cond_dim, self.horizon = action_dim, cond_dim, horizon
        self.num_steps, self.time_embed_dim = num_steps, time_embed_dim
        flat = horizon * action_dim
        layers: list[nn.Module] = []
        width = flat + time_embed_dim + cond_dim
        for hidden in hidden_dims:
            layers += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
            width = hidden
        layers.append(nn.Linear(width, flat))
        self.net = nn.Sequential(*layers)
        self.register_buffer("cond_mean", torch.zeros(cond_dim))
        self.register_buffer("cond_std", torch.ones(cond_dim))
        self.register_buffer("action_mean", torch.zeros(horizon, action_dim))
        self.register_buffer("action_std", torch.ones(horizon, action_dim))

    @torch.no_grad()
    def fit_normalization(self, cond: torch.Tensor, actions: torch.Tensor) -> None:
        """Per-dimension mean and std of conditions (N, cond_dim) and actions (N, horizon, action_dim)."""
        self.cond_mean.copy_(cond.mean(0))
        self.cond_std.copy_(cond.std(0).clamp_min(MIN_STD))
        self.action_mean.copy_(actions.mean(0))
        self.action_std.copy_(actions.std(0).clamp_min(MIN_STD))

    def velocity(self, x: torch.Tensor, t: torch.Tensor, cond_norm: torch.Tensor) -> torch.Tensor:
        """v in normalized action space: x (B, horizon, action_dim), t (B,), normalized condition (B, cond_dim)."""
        features = torch.cat([x.flatten(1), time_embedding(t, self.time_embed_dim), cond_norm], dim=-1)
        return self.net(features).view_as(x)

    def _norm_cond(self, cond: torch.Tensor) -> torch.Tensor:
        return (cond - self.cond_mean) / self.cond_std

    def loss(self, cond: torch.Tensor, actions: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Conditional flow-matching loss on a batch: cond (B, cond_dim), actions (B, horizon, action_dim)."""
        a1 = (actions - self.action_mean) / self.action_std
        a0 = torch.randn(a1.shape, generator=generator, device=a1.device, dtype=a1.dtype)
        t = torch.rand(a1.shape[0], generator=generator, device=a1.device, dtype=a1.dtype)
        a_t = (1 - t[:, None, None]) * a0 + t[:, None, None] * a1
        return (self.velocity(a_t, t, self._norm_cond(cond)) - (a1 - a0)).square().mean()

    def push(self, cond: torch.Tensor, a0: torch.Tensor, num_steps: int | None = None) -> torch.Tensor:
        """Push(s, a0): Euler integration from t = 0 to 1; a0 (B, horizon, action_dim) -> actions, same shape.

        Deterministic given a0 and differentiable w.r.t. a0 and the parameters (wrap in no_grad to roll out).
        """
        num_steps = num_steps or self.num_steps
        cond_norm, x, dt = self._norm_cond(cond), a0, 1.0 / num_steps
        for k in range(num_steps):
            t = torch.full((x.shape[0],), k * dt, device=x.device, dtype=x.dtype)
            x = x + dt * self.velocity(x, t, cond_norm)
        return x * self.action_std + self.action_mean

    def sample(self, cond: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Actions pushed from a0 ~ N(0, I), the unsteered prior."""
        shape = (cond.shape[0], self.horizon, self.action_dim)
        return self.push(cond, torch.randn(shape, generator=generator, device=cond.device, dtype=cond.dtype))

    def invert(
        self, cond: torch.Tensor, actions: torch.Tensor, num_iters: int = 300, lr: float = 0.01
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """a0 whose push best explains `actions` (B, horizon, action_dim); returns a0 and the per-sample error.

        Initial guess: Euler integration backwards in time, a^{k} = a^{k+1} - dt v(a^{k+1}, t_{k+1}, s), which
        undoes Push up to the discretization error (it alone can be far off where Push contracts sharply).
        Then Adam on a0 minimizes the squared error of the push in normalized action space, each sample on its
        own (its loss is summed, so the batch size does not change the step). The best a0 seen per sample is
        kept; the error is the mean absolute error of its push in action units, (B,): check it, as a few samples
        in flat regions of Push converge slowly.
        """
        cond_norm, dt = self._norm_cond(cond), 1.0 / self.num_steps
        with torch.no_grad():
            x = (actions - self.action_mean) / self.action_std
            for k in range(self.num_steps, 0, -1):
                t = torch.full((x.shape[0],), k * dt, device=x.device, dtype=x.dtype)
                x = x - dt * self.velocity(x, t, cond_norm)
        a0 = x.clone().requires_grad_(True)
        best_a0, best_error = x.clone(), torch.full((x.shape[0],), math.inf, device=x.device, dtype=x.dtype)
        optimizer = torch.optim.Adam([a0], lr=lr)
        for i in range(num_iters + 1):  # the last pass only scores the final a0
            with torch.enable_grad():
                error = (self.push(cond, a0) - actions).div(self.action_std).square().flatten(1).sum(1)
            better = error.detach() < best_error
            best_a0[better], best_error[better] = a0.detach()[better], error.detach()[better]
            if i < num_iters:
                a0.grad = torch.autograd.grad(error.sum(), a0)[0]  # the frozen parameters get no gradient
                optimizer.step()
        with torch.no_grad():
            mean_abs = (self.push(cond, best_a0) - actions).abs().flatten(1).mean(1)
        return best_a0, mean_abs

    def save(self, path: str, metadata: dict | None = None) -> None:
        """Write config, weights and normalization, and the caller's `metadata` (task, variant, field names)."""
        save_atomically({"config": self.config, "state_dict": self.state_dict(), "metadata": metadata or {}}, path)

    @staticmethod
    def is_checkpoint(path: str) -> bool:
        """Whether `path` holds a prior written by `save` (tools/train_prior.py) rather than a policy."""
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:  # not ours; the policy loader reports what is wrong with it
            return False
        return isinstance(saved, dict) and "variant" in saved.get("metadata", {}) and "state_dict" in saved

    @classmethod
    def load(cls, path: str, map_location: str | torch.device = "cpu") -> tuple[FlowPrior, dict]:
        """Rebuild a saved prior; raises CheckpointError (a ValueError) naming `path` for a bad file."""
        saved = load_saved(path, "flow prior", {"config", "state_dict", "metadata"})
        model = build_saved(cls, saved, path, "flow prior")
        return model.to(map_location), saved["metadata"]


def train_flow_prior(
    model: FlowPrior,
    cond: torch.Tensor,
    actions: torch.Tensor,
    num_steps: int,
    batch_size: int = 256,
    lr: float = 3e-4,
    weight_decay: float = 1e-4,
    cosine: bool = True,
    fit_normalization: bool = True,
    generator: torch.Generator | None = None,
    log_fn: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train on (cond (N, cond_dim), actions (N, horizon, action_dim)) with AdamW; returns the loss per step.

    Fits the normalization to this data first unless told not to (e.g. when finetuning). The learning rate is
    constant or follows a cosine decay to zero over `num_steps`. `log_fn(step, loss)` is called every step.
    """
    if fit_normalization:
        model.fit_normalization(cond, actions)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, num_steps) if cosine else None
    losses = []
    for step in range(num_steps):
        index = torch.randint(len(cond), (batch_size,), generator=generator, device=cond.device)
        loss = model.loss(cond[index], actions[index], generator=generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.item())
        if log_fn is not None:
            log_fn(step, losses[-1])
    model.eval()
    return losses

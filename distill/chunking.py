"""Real-time chunked execution of a chunk-predicting policy (003, Fig. 7 and B.5).

Each environment keeps a queue of predicted actions. A decision sees the observation and the first `prefix`
queued actions (already committed: on a robot they run while the network thinks) and predicts the `chunk`
of actions that follows them; the rest of the old queue is dropped. `execute` actions run between two
decisions, so the next decision's prefix is made of actions the previous one predicted. The executed
actions are smoothed by an exponential moving average, x_t = alpha a_t + (1 - alpha) x_{t-1} (alpha 1:
none; 003 runs its cube-rotation student with 0.5).

With prefix 0, execute 1 and alpha 1 this is plain receding-horizon control: the first action of a chunk
predicted at every step (000's student).
"""

from __future__ import annotations

from typing import Callable

import torch

Decide = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""(env_ids (n,), prefix (n, prefix, A)) -> the chunk (n, chunk, A) that follows the prefix."""


class ChunkedExecutor:
    def __init__(
        self,
        decide: Decide,
        num_envs: int,
        action_dim: int,
        chunk: int,
        prefix: int = 0,
        execute: int = 1,
        alpha: float = 1.0,
        device: torch.device | str = "cpu",
    ):
        self.check(chunk, prefix, execute, alpha)
        self.decide, self.chunk, self.prefix, self.execute, self.alpha = decide, chunk, prefix, execute, alpha
        self.queue = torch.zeros(num_envs, prefix + chunk, action_dim, device=device)
        self.length = torch.zeros(num_envs, dtype=torch.long, device=device)  # actions queued; 0: decide now
        self.smoothed = torch.zeros(num_envs, action_dim, device=device)
        self.fresh = torch.ones(num_envs, dtype=torch.bool, device=device)  # the EMA starts at the next action
        self.held = torch.zeros(num_envs, dtype=torch.bool, device=device)  # the prefix has been given

    @staticmethod
    def check(chunk: int, prefix: int, execute: int, alpha: float) -> None:
        if chunk < 1 or prefix < 0 or not 1 <= execute <= chunk:
            raise ValueError(
                f"chunked execution needs chunk >= 1, prefix >= 0 and 1 <= execute <= chunk; got chunk {chunk}, "
                f"prefix {prefix}, execute {execute}"
            )
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"the EMA coefficient must be in (0, 1], got {alpha}")

    def reset(self, env_ids: torch.Tensor, hold: torch.Tensor | None = None) -> None:
        """Start new episodes in `env_ids`: their queues empty, and the first decision's prefix and the EMA's
        past are `hold` (n, A), the action that keeps the robot where it is. Without it the EMA starts at the
        first executed action; a policy that reads a prefix needs it."""
        self.length[env_ids] = 0
        self.fresh[env_ids] = hold is None
        self.held[env_ids] = hold is not None
        if hold is not None:
            self.queue[env_ids, : self.prefix] = hold.unsqueeze(1)
            self.smoothed[env_ids] = hold

    def __call__(self) -> torch.Tensor:
        """The action (N, A) every environment executes now, deciding first where the queue has run down."""
        due = (self.length <= self.prefix + self.chunk - self.execute).nonzero().squeeze(-1)
        if len(due):
            if self.prefix and not self.held[due].all():
                raise ValueError("a policy that reads prefix actions needs the holding action at a reset")
            self.queue[due, self.prefix :] = self.decide(due, self.queue[due, : self.prefix])
            self.length[due] = self.prefix + self.chunk
        action = self.queue[:, 0].clone()
        self.queue = self.queue.roll(-1, dims=1)
        self.length -= 1
        self.smoothed = torch.where(
            self.fresh.unsqueeze(-1), action, self.alpha * action + (1.0 - self.alpha) * self.smoothed
        )
        self.fresh.zero_()
        return self.smoothed.clone()


def windows(labels: torch.Tensor, dones: torch.Tensor, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of `length` consecutive labels (T, N, A) within one episode, `dones` (T, N) marking each
    episode's last step: (valid (T - length + 1, N), windows (T - length + 1, N, length, A)), the window at
    t made of labels t .. t + length - 1."""
    spans = labels.unfold(0, length, 1).movedim(-1, 2)
    ended = dones[: len(dones) - 1].unfold(0, length - 1, 1).any(-1) if length > 1 else torch.zeros_like(dones)
    return ~ended[: len(spans)], spans

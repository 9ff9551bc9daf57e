"""Residual Flow Steering and its ablations as action spaces (paper 000, Sec. 4; Table 2), for any task whose
environment provides a flow prior interface (`env.prior_io`, agents/prior_data.py) besides the arm-and-hand
action interface (isaac_tasks/action_spaces.py).

The policy's output is split into [arm delta (hand prior only) | latent a0 (horizon steps) | residual]:

    executed = Push(s, a0) + residual          (first of the `horizon` predicted steps; the paper's 2)

with a0 squashed into (-latent_bound, latent_bound) when the policy steers it (RFS, DSRL) and drawn
from N(0, I) each step when it does not (residual RL). The frozen prior's condition comes from the
task's physics state. The task's config gives prior_checkpoint, prior_num_steps, latent_bound,
residual_arm_scale, residual_finger_scale and residual_init_std. A zero policy output executes the prior's deterministic push (a0 = 0) with no
residual; the residual outputs of the actor start at zero mean and a small std (`residual_dims`, cfg.residual_init_std). A prior trained with another
horizon (tools/train_prior.py --horizon) widens the latent to horizon x action_dim; `rfs_chunk_hand` then
executes all its steps per decision.
"""

from __future__ import annotations

import torch

from agents import prior_data
from agents.flow_matching import FlowPrior
from agents.threads import every_core
from isaac_tasks import make_prior_io
from isaac_tasks.action_spaces import ActionSpace, ChunkedActionSpace


class FlowSteering(ActionSpace):
    variant: str  # prior variant: "hand" or "hand_arm"
    steer_latent: bool
    residual: bool
    settings = ("prior_checkpoint", "prior_num_steps", "latent_bound", "residual_arm_scale", "residual_finger_scale")

    def __init__(self, env):
        super().__init__(env)
        cfg = env.cfg
        if not cfg.prior_checkpoint:
            raise ValueError(
                f"action space '{cfg.action_space}' needs a '{self.variant}' flow prior: set prior_checkpoint "
                "(train one with tools/train_prior.py)"
            )
        self.io = env.prior_io
        self.prior, metadata = FlowPrior.load(cfg.prior_checkpoint)
        user = f"action space '{cfg.action_space}'"
        prior_data.check_prior(
            cfg.prior_checkpoint, self.prior.config, metadata, cfg.task_id, self.io, self.variant, user
        )
        self.prior.eval().requires_grad_(False)
        self.action_dim = self.io.variants[self.variant]["action_dim"]
        self.num_steps = cfg.prior_num_steps or self.prior.num_steps  # Euler steps per Push
        self.horizon = self.prior.horizon  # steps the prior predicts; the latent covers all of them
        prior_arm = env.num_arm_actions if self.io.drives_arm(self.variant) else 0
        self.arm_dim = env.num_arm_actions - prior_arm  # the arm command the policy gives itself
        self.latent_dim = self.horizon * self.action_dim if self.steer_latent else 0
        command_dim = prior_arm + env.num_finger_joints
        self.residual_dim = command_dim if self.residual else 0
        self.num_actions = self.arm_dim + self.latent_dim + self.residual_dim
        self.residual_dims = list(range(self.num_actions - self.residual_dim, self.num_actions))
        scale = torch.full((command_dim,), cfg.residual_finger_scale)
        scale[:prior_arm] = cfg.residual_arm_scale
        self.residual_scale = scale.to(env.device)

    @classmethod
    def inputs(cls) -> dict[str, str]:
        return {"prior_checkpoint": f"prior_{cls.variant}"}

    @classmethod
    def check_input(cls, task: str, setting: str, path: str) -> None:
        model, metadata = FlowPrior.load(path)
        user = f"action space '{cls.__name__}'"
        prior_data.check_prior(path, model.config, metadata, task, make_prior_io(task), cls.variant, user)

    def latent(self, actions: torch.Tensor) -> torch.Tensor:
        """(N, horizon, action_dim) a0: the policy's, squashed, or N(0, I)."""
        n, bound = len(actions), self.env.cfg.latent_bound
        if not self.steer_latent:
            shape = (n, self.horizon, self.action_dim)
            return torch.randn(shape, generator=self.env.generator, device=self.env.device)
        raw = actions[:, self.arm_dim : self.arm_dim + self.latent_dim]
        return (bound * torch.tanh(raw / bound)).view(n, self.horizon, self.action_dim)

    def predicted_step(self, actions: torch.Tensor) -> torch.Tensor:
        """(N, action_dim) the prior's action for this step: the first of its `horizon`."""
        with torch.no_grad(), every_core():
            return self.prior.push(self.io.env_condition(self.variant, self.env), self.latent(actions), self.num_steps)[
                :, 0
            ]

    def __call__(self, actions):
        env = self.env
        pushed = self.predicted_step(actions)
        prior_arm, fingers = self.io.arm_and_fingers(self.variant, pushed)
        command = fingers if prior_arm is None else torch.cat((prior_arm, fingers), dim=-1)
        if self.residual:
            command = command + actions[:, -self.residual_dim :].clamp(-1.0, 1.0) * self.residual_scale
        arm = actions[:, : self.arm_dim] if prior_arm is None else command[:, : env.num_arm_actions]
        return arm.clamp(-1.0, 1.0), self.clamp_fingers(command[:, -env.num_finger_joints :])


class RFSHand(FlowSteering):
    """Arm command + latent (horizon x fingers) + finger residual: 6 + 16 x 2 + 16 with the LEAP hand and arm."""

    variant, steer_latent, residual = "hand", True, True


class RFSHandArm(FlowSteering):
    """Latent (horizon x arm and fingers) + residual on both: 23 x 2 + 22 with the LEAP hand and arm."""

    variant, steer_latent, residual = "hand_arm", True, True


class DSRLHand(FlowSteering):
    """Arm command + latent (horizon x fingers): 6 + 16 x 2 with the LEAP hand and arm."""

    variant, steer_latent, residual = "hand", True, False


class DSRLHandArm(FlowSteering):
    """Latent (horizon x arm and fingers): 23 x 2 with the LEAP hand and arm."""

    variant, steer_latent, residual = "hand_arm", True, False


class ResidualHandArm(FlowSteering):
    """Residual on arm and fingers (22 with the LEAP hand and arm); a0 ~ N(0, I) every step."""

    variant, steer_latent, residual = "hand_arm", False, True


class RFSChunkHand(ChunkedActionSpace, RFSHand):
    """RFS (hand) executing all the prior's predicted finger steps (its horizon: 2 as the paper), each with
    the residual, per policy decision."""

    chunk_length = prior_data.HORIZON  # a horizon-2 prior's; an instance takes its prior's horizon

    def __init__(self, env):
        super().__init__(env)
        self.chunk_length = self.horizon  # read by make_env when it wraps the task in ChunkedEnv

    def plan(self, actions, fresh):
        with torch.no_grad(), every_core():
            return self.prior.push(
                self.io.env_condition(self.variant, self.env)[fresh], self.latent(actions)[fresh], self.num_steps
            )

    def predicted_step(self, actions):
        return self.chunk_step(actions)

"""Finger targets that never send a hand's fingers through each other, in torch.

The simulation has no self-collision (as in the paper), so nothing stops a policy or a prior from driving
the finger servos towards a pose whose links pass through each other; only an object between the fingers
does, and it may slip. With the guard on, each environment's new finger targets are posed in free air
(forward kinematics of the hand alone) and measured with `SelfOverlap`; where the fingers would overlap
deeper than the limit, the targets are pulled back towards the last ones sent, by halves, and kept at the
last ones if no half is within the limit. The last targets were within it, so the servos are never sent
towards crossed fingers, whatever the object does: the check the scripted demonstrator makes while closing,
made a property of the hand's command (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np
import torch

from isaac_tasks.math import quat_apply, quat_from_axis_angle, quat_mul
from isaac_tasks.self_overlap import SelfOverlap


class HandKinematics:
    """Poses of `bodies` in the frame of their nearest common ancestor from the angles of the hinge joints
    `joint_names` (MuJoCo's convention: each hinge turns its body by the angle minus the joint's qpos0 about
    its axis, through its anchor)."""

    def __init__(self, model: mujoco.MjModel, bodies: Sequence[str], joint_names: Sequence[str], device="cpu"):
        def body_id(name: str) -> int:
            index = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
            if index < 0:
                raise ValueError(f"the model has no body '{name}'")
            return index

        def ancestors(index: int) -> list[int]:
            chain = [index]
            while chain[-1] != 0:
                chain.append(int(model.body_parentid[chain[-1]]))
            return chain

        targets = [body_id(name) for name in bodies]
        shared = set.intersection(*(set(ancestors(b)) for b in targets))
        root = max(shared)  # body ids are topological: the deepest shared ancestor has the largest id
        chain = sorted({a for b in targets for a in ancestors(b) if a > root} | {root})
        column = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name): k for k, name in enumerate(joint_names)}
        slot = {body: k for k, body in enumerate(chain)}

        parent, joint, axis, anchor, reference = [], [], [], [], []
        for body in chain[1:]:
            parent.append(slot[int(model.body_parentid[body])])
            first, count = int(model.body_jntadr[body]), int(model.body_jntnum[body])
            if count > 1 or (count and model.jnt_type[first] != mujoco.mjtJoint.mjJNT_HINGE):
                raise ValueError(f"body {body}: hand links need at most one hinge joint each")
            if count and first not in column:
                raise ValueError(f"joint {first} of body {body} is not among the hand's joints")
            joint.append(column[first] if count else -1)
            axis.append(model.jnt_axis[first] if count else np.array([0.0, 0.0, 1.0]))
            anchor.append(model.jnt_pos[first] if count else np.zeros(3))
            reference.append(model.qpos0[model.jnt_qposadr[first]] if count else 0.0)

        def tensor(values, dtype=torch.float32):
            return torch.as_tensor(np.array(values), dtype=dtype, device=device)

        self._parent = parent
        self._offset = tensor(model.body_pos[chain[1:]])
        self._rest = tensor(model.body_quat[chain[1:]])
        self._joint = tensor(joint, torch.long).clamp(min=0)
        self._moves = tensor([j >= 0 for j in joint], torch.bool)
        self._axis = tensor(axis)
        self._anchor = tensor(anchor)
        self._reference = tensor(reference)
        self._rows = tensor([slot[b] for b in targets], torch.long)

    def __call__(self, angles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, B, 3) positions and (N, B, 4) quaternions (w first) of the bodies for joint angles (N, J)."""
        n = len(angles)
        turn = torch.where(self._moves, angles[:, self._joint] - self._reference, 0.0)  # (N, L)
        local = quat_mul(self._rest.expand(n, -1, -1), quat_from_axis_angle(turn.unsqueeze(-1) * self._axis))
        # the joint turns the body about its anchor: shift the frame so that the anchor stays put
        anchor = self._anchor.expand(n, -1, -1)
        shift = quat_apply(self._rest.expand(n, -1, -1), anchor) - quat_apply(local, anchor)
        pos = [torch.zeros(n, 3, device=angles.device)]
        quat = [torch.tensor([1.0, 0.0, 0.0, 0.0], device=angles.device).expand(n, 4)]
        for k, p in enumerate(self._parent):
            pos.append(pos[p] + quat_apply(quat[p], self._offset[k] + shift[:, k]))
            quat.append(quat_mul(quat[p], local[:, k]))
        return torch.stack(pos, dim=1)[:, self._rows], torch.stack(quat, dim=1)[:, self._rows]


class FingerTargetGuard:
    """Holds back finger targets (N, J) that would overlap the hand's links deeper than `limit` (m) in free air."""

    def __init__(self, model: mujoco.MjModel, hand, limit: float, device="cpu", halvings: int = 3):
        self.limit, self.halvings = limit, halvings
        self.overlap = SelfOverlap(model, hand.link_groups, device, exclude=hand.overlap_exclude)
        self.kinematics = HandKinematics(model, self.overlap.bodies, hand.joint_names, device)

    def depth(self, targets: torch.Tensor) -> torch.Tensor:
        """(N,) deepest overlap (m) of the finger links at `targets` in free air."""
        return self.overlap.depth(*self.kinematics(targets))

    def __call__(self, targets: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """`targets` where they keep the fingers within the limit, elsewhere the point nearest to them on the way
        from `last` (1/2, 1/4, ... of the way) that does, or `last`."""
        held = targets.clone()
        crossing = (self.depth(targets) > self.limit).nonzero().squeeze(-1)
        fraction = 1.0
        for _ in range(self.halvings):
            if len(crossing) == 0:
                return held
            fraction /= 2
            held[crossing] = last[crossing] + fraction * (targets[crossing] - last[crossing])
            crossing = crossing[self.depth(held[crossing]) > self.limit]
        held[crossing] = last[crossing]
        return held

"""How deep a hand's links pass through each other, from link poses, in torch.

A cheap stand-in for the exact penetration meter (`isaac_tasks/evaluation/penetration.py`) that a reward
can afford every control step on any backend. Every collision box of a link (thinner than `min_radius`
excepted) is filled with spheres as thick as the box is thin, and every capsule with spheres along its
axis, neighbours at most a diameter apart (a sphere is its own); the depth of a sphere in a box of another link group is its radius minus its signed distance to
the box. A pair of links is tested one way (the spheres of one into the boxes of the other), and the other way for
thin plates, which have no spheres. The state's depth is the largest over all such pairs. Parent-child links, which meet at their
joint by design, are skipped, as by the meter. On the states of grasping policies it follows the meter
closely (docs/decisions.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations, product

import mujoco
import numpy as np
import torch

from isaac_tasks.evaluation.penetration import collision_parent
from isaac_tasks.math import quat_apply, quat_apply_inverse, quat_mul

MIN_SPHERE_RADIUS = 0.004  # m; thinner boxes (cover plates) are tested against, not filled
INFEASIBLE_OVERLAP = 0.005  # m, the paper's infeasible grasp (000, A.2.3)


def _spheres_in_box(half: np.ndarray) -> tuple[np.ndarray, float]:
    """Centres (k, 3) in the box frame and the radius of spheres as thick as the box, at most a diameter apart."""
    radius = float(half.min())
    thin = int(np.argmin(half))
    axes = [a for a in range(3) if a != thin]
    grids = [
        np.linspace(-(half[a] - radius), half[a] - radius, int(np.ceil((half[a] - radius) / radius)) + 1) for a in axes
    ]
    centres = np.zeros((len(grids[0]) * len(grids[1]), 3))
    centres[:, axes] = np.array(list(product(*grids)))
    return centres, radius


class SelfOverlap:
    """Depth (m) of the deepest overlap between links of different groups (fingers, palm).

    `links` maps a group name to its link body names. `bodies` lists the bodies whose poses `depth`
    takes, in that order.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        links: Mapping[str, Sequence[str]],
        device: str | torch.device = "cpu",
        min_radius: float = MIN_SPHERE_RADIUS,
        exclude: Sequence[tuple[str, str]] = (),
    ):
        ids = {mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, b): b for bodies in links.values() for b in bodies}
        if -1 in ids:
            raise ValueError("the model lacks a link body named in links")
        group = {body: g for g, bodies in enumerate(links.values()) for body in bodies}
        self.bodies = tuple(ids.values())
        slot = {body_id: k for k, body_id in enumerate(ids)}
        collides = (model.geom_contype != 0) | (model.geom_conaffinity != 0)

        # (body id, centre, radius), (body id, centre, quat, half sizes, filled with spheres) in body frames
        spheres, boxes = [], []
        for g in np.flatnonzero(collides):
            body = int(model.geom_bodyid[g])
            if body not in ids:
                continue
            pos, quat, size = model.geom_pos[g], model.geom_quat[g], model.geom_size[g]
            rot = np.zeros(9)
            mujoco.mju_quat2Mat(rot, quat)
            rot = rot.reshape(3, 3)
            if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_BOX:
                boxes.append((body, pos, quat, size.copy(), size.min() >= min_radius))
                if size.min() >= min_radius:
                    centres, radius = _spheres_in_box(size)
                    spheres += [(body, pos + rot @ c, radius) for c in centres]
            elif model.geom_type[g] == mujoco.mjtGeom.mjGEOM_CAPSULE:
                radius, half = size[0], size[1]
                for z in np.linspace(-half, half, int(np.ceil(half / radius)) + 1):
                    spheres.append((body, pos + rot @ np.array([0.0, 0.0, z]), radius))
                boxes.append((body, pos, quat, np.array([radius, radius, half + radius]), True))
            elif model.geom_type[g] == mujoco.mjtGeom.mjGEOM_SPHERE:
                spheres.append((body, pos, size[0]))
                boxes.append((body, pos, quat, np.full(3, size[0]), True))
            else:
                raise ValueError(f"link geom {g} is neither a box, a capsule nor a sphere")

        # Each pair of links that may overlap (other groups, not parent and child) is tested one way, the
        # spheres of the link with fewer of them against the boxes of the other, and the other way for the
        # thin plates, which have no spheres of their own: a plate pushed into a link is caught too.
        sphere_count = {body: sum(s[0] == body for s in spheres) for body in ids}
        excluded = {frozenset(pair) for pair in exclude}
        link_pairs = []
        for a, b in combinations(ids, 2):
            if group[ids[a]] == group[ids[b]] or collision_parent(model, a) == b or collision_parent(model, b) == a:
                continue
            if frozenset((ids[a], ids[b])) in excluded:
                continue
            if sphere_count[b] and (sphere_count[b] < sphere_count[a] or not sphere_count[a]):
                a, b = b, a
            link_pairs.append((a, b))
        pairs, first, count = [], [], []
        for a, b in link_pairs:
            first.append(len(pairs))
            pairs += [(i, j) for i, s in enumerate(spheres) if s[0] == a for j, x in enumerate(boxes) if x[0] == b]
            plates = [j for j, x in enumerate(boxes) if x[0] == a and not x[4]]
            pairs += [(i, j) for i, s in enumerate(spheres) if s[0] == b for j in plates]
            count.append(len(pairs) - first[-1])
        keep = [k for k, c in enumerate(count) if c]
        link_pairs, first, count = [link_pairs[k] for k in keep], [first[k] for k in keep], [count[k] for k in keep]
        if not link_pairs:
            raise ValueError("no two link groups to overlap")

        def tensor(values, dtype=torch.float32):
            return torch.as_tensor(np.array(values), dtype=dtype, device=device)

        self._sphere_body = tensor([slot[s[0]] for s in spheres], torch.long)
        self._sphere_centre = tensor([s[1] for s in spheres])
        self._sphere_radius = tensor([s[2] for s in spheres])
        self._box_body = tensor([slot[x[0]] for x in boxes], torch.long)
        self._box_centre = tensor([x[1] for x in boxes])
        self._box_quat = tensor([x[2] for x in boxes])
        self._box_half = tensor([x[3] for x in boxes])
        self._pair_sphere, self._pair_box = tensor(pairs, torch.long).T
        self._pair_radius, self._pair_box_half = self._sphere_radius[self._pair_sphere], self._box_half[self._pair_box]
        self._pair_reach_sq = (self._pair_radius + self._pair_box_half.norm(dim=-1)) ** 2
        # Links are tested in detail only where their bounding spheres (about their boxes' centres) meet.
        centre, reach = np.zeros((len(ids), 3)), np.zeros(len(ids))
        for body, k in slot.items():
            mine = [(x[1], np.linalg.norm(x[3])) for x in boxes if x[0] == body]
            if mine:
                centre[k] = np.mean([c for c, _ in mine], axis=0)
                reach[k] = max(np.linalg.norm(c - centre[k]) + r for c, r in mine)
        self._link_centre = tensor(centre)
        self._link_a, self._link_b = tensor([(slot[a], slot[b]) for a, b in link_pairs], torch.long).T
        self._link_reach = tensor([reach[slot[a]] + reach[slot[b]] for a, b in link_pairs])
        self._link_first, self._link_count = tensor(first, torch.long), tensor(count, torch.long)

    @property
    def num_pairs(self) -> int:
        """Sphere-box pairs over all link pairs."""
        return len(self._pair_sphere)

    def depth(self, body_pos: torch.Tensor, body_quat: torch.Tensor) -> torch.Tensor:
        """(N,) deepest overlap (m, 0 when apart) from link poses (N, B, 3) and (N, B, 4) in `bodies` order."""
        n = len(body_pos)
        sphere_centre = body_pos[:, self._sphere_body] + quat_apply(
            body_quat[:, self._sphere_body], self._sphere_centre.expand(n, -1, -1)
        )
        box_quat = quat_mul(body_quat[:, self._box_body], self._box_quat.expand(n, -1, -1))
        box_centre = body_pos[:, self._box_body] + quat_apply(
            body_quat[:, self._box_body], self._box_centre.expand(n, -1, -1)
        )
        link_centre = body_pos + quat_apply(body_quat, self._link_centre.expand(n, -1, -1))
        link_gap = (link_centre[:, self._link_a] - link_centre[:, self._link_b]).norm(dim=-1)
        env, link = (link_gap < self._link_reach).nonzero(as_tuple=True)
        count = self._link_count[link]
        env = env.repeat_interleave(count)
        starts = self._link_first[link].repeat_interleave(count)
        pair = starts + torch.arange(len(env), device=env.device) - (count.cumsum(0) - count).repeat_interleave(count)
        # flat rows and index_select: cheaper on the CPU than indexing with two index tensors
        sphere_row = env * len(self._sphere_radius) + self._pair_sphere.index_select(0, pair)
        box_row = env * len(self._box_half) + self._pair_box.index_select(0, pair)
        gap = sphere_centre.reshape(-1, 3).index_select(0, sphere_row) - box_centre.reshape(-1, 3).index_select(
            0, box_row
        )
        reach_sq = self._pair_reach_sq.index_select(0, pair)
        near = ((gap * gap).sum(dim=-1) < reach_sq).nonzero().squeeze(-1)  # the sphere meets the box's bounding sphere
        env, pair, gap = env.index_select(0, near), pair.index_select(0, near), gap.index_select(0, near)
        box_frame = box_quat.reshape(-1, 4).index_select(0, box_row.index_select(0, near))
        local = quat_apply_inverse(box_frame, gap).abs() - self._pair_box_half.index_select(0, pair)
        distance = local.clamp_min(0.0).norm(dim=-1) + local.max(dim=-1).values.clamp_max(0.0)
        overlap = (self._pair_radius.index_select(0, pair) - distance).clamp_min(0.0)
        return torch.zeros(n, device=body_pos.device).scatter_reduce_(0, env, overlap, "amax")

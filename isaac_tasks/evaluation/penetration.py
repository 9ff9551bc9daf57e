"""Penetration depth of hand states, DexGraspNet-style (paper 000, A.2.3; SPEC section 5).

For each state, two depths in metres (0 when nothing overlaps):

- hand-hand: the deepest overlap between collision geoms of different link groups (fingers, palm),
  except parent-child links (skipping bodies without collision geoms, such as the link between the
  two joints of a universal joint), which meet at their joint by design. The simulation does not collide the
  robot with itself, so fingers can pass through each other; this measures how far.
- hand-object: the deepest overlap between any hand geom and a geom of the object body.

Depths are taken per convex piece (geom pair) and maximised: a sign test by ray parity on the union
of a link's overlapping pieces would be wrong. A grasp deeper than 0.5 cm is infeasible.

Two paths:

- exact CPU path (default without Kaolin): MuJoCo's signed distance between convex primitives,
  `mj_geomDistance`, after `mj_kinematics`, for the pairs whose bounding spheres overlap. Its depth
  is the penetration depth proper: the shortest translation that separates the two pieces.
- Kaolin path (default when `kaolin` imports): the paper's tool and DexGraspNet's definition, the
  deepest surface point of one piece inside the other, on tessellated primitives; see `_KaolinDepth`.
  For convex pieces this never exceeds the CPU depth and equals it when a face or a round surface
  is pushed in (the tests' configurations); where edges cross, the CPU depth is larger (LEAP fingers
  abducted into each other by 0.1 rad: 2.9 mm against 2.0 mm), so the CPU path flags more states.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations, product
from typing import NamedTuple

import mujoco
import numpy as np


INFEASIBLE_DEPTH = 0.005  # m (paper 000, A.2.3)


def collision_parent(model: mujoco.MjModel, body: int) -> int:
    """The nearest ancestor of `body` with collision geoms (joint-only bodies skipped); 0 for the world. A link
    and this parent touch at their joint by construction, so penetration between them is not counted."""
    collides = (model.geom_contype != 0) | (model.geom_conaffinity != 0)
    has_geom = np.zeros(model.nbody, dtype=bool)
    has_geom[model.geom_bodyid[collides]] = True
    body = model.body_parentid[body]
    while body > 0 and not has_geom[body]:
        body = model.body_parentid[body]
    return int(body)


class Penetration(NamedTuple):
    hand_hand: np.ndarray  # (n,) m
    hand_object: np.ndarray  # (n,) m


def infeasible(depth: np.ndarray, threshold: float = INFEASIBLE_DEPTH) -> np.ndarray:
    """States whose penetration exceeds `threshold` (m)."""
    return np.asarray(depth) > threshold


def kaolin_available() -> bool:
    """Kaolin imports and a CUDA device is present (its sign test runs on CUDA only)."""
    try:
        import kaolin  # noqa: F401
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def _body_id(model: mujoco.MjModel, name: str) -> int:
    idx = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)
    if idx < 0:
        raise ValueError(f"scene has no body named '{name}'")
    return idx


class PenetrationMeter:
    """Penetration depths of a batch of full model states of one scene.

    `links` maps a group name (finger, palm) to its link body names; `object_body` names the object;
    `exclude` lists further body pairs not to count (links whose collision shapes overlap by design).
    Only collision geoms (contype or conaffinity set) count.
    """

    def __init__(
        self,
        spec: mujoco.MjSpec,
        links: Mapping[str, Sequence[str]],
        object_body: str,
        exclude: Sequence[tuple[str, str]] = (),
        use_kaolin: bool | None = None,
        device: str = "cuda",
    ):
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        group = {_body_id(m, body): i for i, bodies in enumerate(links.values()) for body in bodies}
        collides = (m.geom_contype != 0) | (m.geom_conaffinity != 0)
        hand = [g for g in range(m.ngeom) if collides[g] and m.geom_bodyid[g] in group]
        obj = np.flatnonzero(collides & (m.geom_bodyid == _body_id(m, object_body))).tolist()
        if not hand or not obj:
            raise ValueError("the hand and the object need at least one collision geom each")

        excluded = {frozenset((_body_id(m, x), _body_id(m, y))) for x, y in exclude}

        def counts(a: int, b: int) -> bool:
            ba, bb = m.geom_bodyid[a], m.geom_bodyid[b]
            return (
                group[ba] != group[bb]
                and collision_parent(m, ba) != bb
                and collision_parent(m, bb) != ba
                and frozenset((ba, bb)) not in excluded
            )

        hand_hand = [(a, b) for a, b in combinations(hand, 2) if counts(a, b)]
        self.num_hand_pairs = len(hand_hand)
        self.pairs = np.array(hand_hand + list(product(hand, obj)), dtype=np.int64).reshape(-1, 2)
        self._reach = m.geom_rbound[self.pairs].sum(axis=1) ** 2
        self.distance_calls = 0  # pairs evaluated (bounding spheres overlap), over all states measured
        if use_kaolin is None:
            use_kaolin = kaolin_available()
        self._kaolin = _KaolinDepth(m, np.unique(self.pairs), device) if use_kaolin else None

    def measure(self, qpos: np.ndarray) -> Penetration:
        """Depths (m) for states `qpos` of shape (n, nq)."""
        m, d = self.model, self.data
        qpos = np.atleast_2d(np.asarray(qpos, dtype=np.float64))
        if qpos.shape[1] != m.nq:
            raise ValueError(f"qpos must have shape (n, {m.nq}), got {qpos.shape}")
        if self._kaolin is not None:
            return self._measure_kaolin(qpos)
        a, b = self.pairs.T
        depth = np.zeros((len(qpos), 2))  # columns: hand-hand, hand-object
        for i, q in enumerate(qpos):
            for k in self._near(q):
                # distmax 0: separated pairs return 0, overlapping ones minus their penetration depth
                col = int(k >= self.num_hand_pairs)
                depth[i, col] = max(depth[i, col], -mujoco.mj_geomDistance(m, d, a[k], b[k], 0.0, None))
        return Penetration(depth[:, 0], depth[:, 1])

    def _near(self, q: np.ndarray) -> np.ndarray:
        """Poses the geoms at state `q`; returns the pairs whose bounding spheres overlap."""
        self.data.qpos[:] = q
        mujoco.mj_kinematics(self.model, self.data)
        gap = self.data.geom_xpos[self.pairs[:, 0]] - self.data.geom_xpos[self.pairs[:, 1]]
        near = np.flatnonzero(np.einsum("ij,ij->i", gap, gap) < self._reach)
        self.distance_calls += len(near)
        return near

    def _measure_kaolin(self, qpos: np.ndarray) -> Penetration:
        n, d = len(qpos), self.data
        near = np.zeros((n, len(self.pairs)), dtype=bool)
        xpos, xmat = np.empty((n, self.model.ngeom, 3)), np.empty((n, self.model.ngeom, 9))
        for i, q in enumerate(qpos):
            near[i, self._near(q)] = True
            xpos[i], xmat[i] = d.geom_xpos, d.geom_xmat
        depth = self._kaolin.depth(xpos, xmat.reshape(n, -1, 3, 3), self.pairs, near)
        h = self.num_hand_pairs
        return Penetration(depth[:, :h].max(axis=1, initial=0.0), depth[:, h:].max(axis=1, initial=0.0))


# --- Kaolin path ---------------------------------------------------------------------------------
def _revolve(profile: np.ndarray, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Closed surface of revolution about z of `profile` (radius, z), from the top pole to the bottom pole."""
    phi = 2 * np.pi * np.arange(segments) / segments
    r, z = profile[1:-1, :1], profile[1:-1, 1:]
    rings = np.stack((r * np.cos(phi), r * np.sin(phi), np.broadcast_to(z, r.shape[:1] + phi.shape)), axis=-1)
    verts = np.concatenate(([[0.0, 0.0, profile[0, 1]]], rings.reshape(-1, 3), [[0.0, 0.0, profile[-1, 1]]]))
    j, k = np.arange(segments), (np.arange(segments) + 1) % segments
    bottom = len(verts) - 1
    faces = [np.stack((np.zeros_like(j), 1 + j, 1 + k), axis=1)]
    for ring in range(len(rings) - 1):
        top, low = 1 + ring * segments, 1 + (ring + 1) * segments
        faces += [np.stack((top + j, low + j, low + k), axis=1), np.stack((top + j, low + k, top + k), axis=1)]
    last = 1 + (len(rings) - 1) * segments
    faces.append(np.stack((np.full_like(j, bottom), last + k, last + j), axis=1))
    return verts, np.concatenate(faces)


def tessellate(geom_type: int, size: np.ndarray, segments: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Closed triangle mesh (vertices, faces) of a primitive in its geom frame: boxes exact, round
    shapes inscribed, `segments` steps per turn, straight sides cut into rings four steps apart."""
    theta = np.linspace(0.0, np.pi, segments // 2 + 1)
    sphere = np.stack((np.sin(theta), np.cos(theta)), axis=1)
    sphere[[0, -1], 0] = 0.0

    def side(radius: float, half: float) -> np.ndarray:  # (radius, z) from z = half down to -half
        z = np.linspace(half, -half, max(1, int(np.ceil(half * segments / (4 * np.pi * radius)))) + 1)
        return np.stack((np.full_like(z, radius), z), axis=1)

    if geom_type == mujoco.mjtGeom.mjGEOM_BOX:
        corners = np.array(list(product((-1.0, 1.0), repeat=3))) * size
        faces = [
            [0, 1, 3],
            [0, 3, 2],
            [4, 6, 7],
            [4, 7, 5],
            [0, 4, 5],
            [0, 5, 1],
            [2, 3, 7],
            [2, 7, 6],
            [0, 2, 6],
            [0, 6, 4],
            [1, 5, 7],
            [1, 7, 3],
        ]
        return corners, np.array(faces)
    if geom_type == mujoco.mjtGeom.mjGEOM_SPHERE:
        return _revolve(size[0] * sphere, segments)
    if geom_type == mujoco.mjtGeom.mjGEOM_ELLIPSOID:
        verts, faces = _revolve(sphere, segments)
        return verts * size, faces
    if geom_type == mujoco.mjtGeom.mjGEOM_CAPSULE:
        r, h, equator = size[0], size[1], segments // 4
        cap = r * sphere[:equator]
        return _revolve(np.concatenate((cap + [0.0, h], side(r, h), cap[::-1] * [1.0, -1.0] - [0.0, h])), segments)
    if geom_type == mujoco.mjtGeom.mjGEOM_CYLINDER:
        r, h = size[0], size[1]
        radii = np.linspace(0.0, r, segments // 8 + 1)[:-1]
        cap = np.stack((radii, np.full_like(radii, h)), axis=1)
        return _revolve(np.concatenate((cap, side(r, h), cap[::-1] * [1.0, -1.0])), segments)
    raise ValueError(f"cannot tessellate geom type {mujoco.mjtGeom(geom_type).name}")


def surface_points(verts: np.ndarray, faces: np.ndarray, spacing: float) -> np.ndarray:
    """Points on every triangle on a barycentric grid no coarser than `spacing` (m)."""
    tri = verts[faces]
    edge = np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=-1).max(axis=1)
    steps = np.maximum(1, np.ceil(edge / spacing)).astype(int)
    points = []
    for s in np.unique(steps):
        i, j = np.meshgrid(np.arange(s + 1), np.arange(s + 1), indexing="ij")
        keep = i + j <= s
        w = np.stack((i[keep], j[keep], s - i[keep] - j[keep]), axis=1) / s
        points.append(np.einsum("pk,fkc->fpc", w, tri[steps == s]).reshape(-1, 3))
    return np.concatenate(points)


class _KaolinDepth:
    """DexGraspNet-style depth with Kaolin on the GPU. Never run here: Kaolin has no PyPI build, so
    this path is untested in this project (tests/test_penetration.py compares it with the CPU path
    where Kaolin and CUDA are installed).

    Per geom pair and state, the depth is the largest distance to B's mesh of a surface point of A
    that lies inside B (`check_sign`, ray parity on one closed convex mesh), and the same with A and B
    swapped; only states whose bounding spheres overlap are evaluated. Tessellation (inscribed, 64
    steps per turn) and point spacing (0.5 mm, coarser on large pieces: at most ~`max_points` per
    geom) bound the error to about 0.1 mm on the hand's centimetre-sized pieces.
    """

    def __init__(self, model: mujoco.MjModel, geoms: np.ndarray, device: str, max_points: int = 4096):
        import torch

        self.device = torch.device(device)
        self.meshes, self.points = {}, {}
        for g in map(int, geoms):
            verts, faces = tessellate(int(model.geom_type[g]), model.geom_size[g])
            tri = verts[faces]
            area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1).sum()
            points = surface_points(verts, faces, max(5e-4, np.sqrt(2 * area / max_points)))
            self.meshes[g] = (
                torch.tensor(verts, dtype=torch.float32, device=self.device),
                torch.tensor(faces, dtype=torch.long, device=self.device),
            )
            self.points[g] = torch.tensor(points, dtype=torch.float32, device=self.device)

    def _inside_depth(self, a: int, b: int, pos, rot):
        """(n,) deepest point of geom a's surface inside geom b; `pos` (n, ngeom, 3), `rot` (n, ngeom, 3, 3)."""
        import torch
        from kaolin.metrics.trianglemesh import point_to_mesh_distance
        from kaolin.ops.mesh import check_sign, index_vertices_by_faces

        points = torch.einsum("nij,pj->npi", rot[:, a], self.points[a]) + pos[:, a, None]
        verts_b, faces_b = self.meshes[b]
        verts = torch.einsum("nij,pj->npi", rot[:, b], verts_b) + pos[:, b, None]
        inside = check_sign(verts, faces_b, points)
        dist2, _, _ = point_to_mesh_distance(points.contiguous(), index_vertices_by_faces(verts, faces_b))
        return torch.where(inside, dist2.sqrt(), 0.0).amax(dim=1)

    def depth(self, xpos: np.ndarray, xmat: np.ndarray, pairs: np.ndarray, near: np.ndarray) -> np.ndarray:
        """(n, pairs) depths; `near` (n, pairs) marks the states and pairs to evaluate."""
        import torch

        pos = torch.tensor(xpos, dtype=torch.float32, device=self.device)
        rot = torch.tensor(xmat, dtype=torch.float32, device=self.device)
        depth = np.zeros(near.shape)
        for k in np.flatnonzero(near.any(axis=0)):
            a, b = (int(g) for g in pairs[k])
            rows = np.flatnonzero(near[:, k])
            p, r = pos[rows], rot[rows]
            depth[rows, k] = torch.maximum(self._inside_depth(a, b, p, r), self._inside_depth(b, a, p, r)).cpu().numpy()
        return depth

"""Grasp objects: everyday shapes as single primitives, tagged by the grasp family that suits them.

Each object is one collision primitive with a free joint, so all objects share one model layout and a
batch of environments can hold a different object in each (see `isaac_tasks.physics`). Plush items are
simulated as rigid, as in the paper. Sizes follow MuJoCo's primitive conventions (half sizes; for
cylinders and capsules radius and half length) and are jittered deterministically from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

GRASP_TYPES = ("pinch", "power")
SHAPES = ("box", "cylinder", "capsule", "sphere", "ellipsoid")  # MuJoCo primitives, in one-hot order
GEOMETRY_DIM = 3 + len(SHAPES)  # an object's geometry as tasks observe it: 3 primitive half-sizes, one-hot shape


@dataclass(frozen=True)
class ObjectSpec:
    name: str
    grasp_type: str  # "pinch" (thumb and one or two fingers) or "power" (whole hand)
    shape: str  # one of SHAPES
    size: tuple[float, float, float]
    mass: float  # kg
    friction: float

    @property
    def rest_height(self) -> float:
        """Height of the centre above the table when resting upright."""
        if self.shape in ("box", "ellipsoid"):
            return self.size[2]
        if self.shape == "capsule":
            return self.size[0] + self.size[1]
        if self.shape == "cylinder":
            return self.size[1]
        return self.size[0]


# Nominal objects; sizes in metres.
_NOMINAL = (
    ObjectSpec("marker", "pinch", "cylinder", (0.012, 0.06, 0.0), 0.03, 0.8),
    ObjectSpec("dice", "pinch", "box", (0.018, 0.018, 0.018), 0.04, 0.9),
    ObjectSpec("eraser", "pinch", "box", (0.03, 0.015, 0.012), 0.03, 1.0),
    ObjectSpec("golf_ball", "pinch", "sphere", (0.021, 0.0, 0.0), 0.045, 0.7),
    ObjectSpec("battery", "pinch", "capsule", (0.01, 0.025, 0.0), 0.025, 0.8),
    ObjectSpec("spool", "pinch", "cylinder", (0.02, 0.025, 0.0), 0.05, 0.9),
    ObjectSpec("bottle", "power", "cylinder", (0.033, 0.1, 0.0), 0.25, 0.8),
    ObjectSpec("can", "power", "cylinder", (0.033, 0.06, 0.0), 0.2, 0.7),
    ObjectSpec("cereal_box", "power", "box", (0.03, 0.07, 0.09), 0.3, 0.9),
    ObjectSpec("ball", "power", "sphere", (0.045, 0.0, 0.0), 0.15, 1.0),
    ObjectSpec("plush_bunny", "power", "ellipsoid", (0.05, 0.045, 0.04), 0.12, 1.2),  # resting on its shortest axis
    ObjectSpec("plush_roll", "power", "capsule", (0.035, 0.05, 0.0), 0.1, 1.2),
)


def object_set(seed: int = 0, grasp_type: str = "all", size_jitter: float = 0.1) -> list[ObjectSpec]:
    """The object set, each size scaled by a factor in [1 - size_jitter, 1 + size_jitter] drawn from `seed`."""
    if grasp_type not in (*GRASP_TYPES, "all"):
        raise ValueError(f"grasp_type must be one of {(*GRASP_TYPES, 'all')}, got '{grasp_type}'")
    if not 0.0 <= size_jitter < 0.5:
        raise ValueError(f"size_jitter must be in [0, 0.5), got {size_jitter}")
    rng = np.random.default_rng(seed)
    objects = []
    for spec in _NOMINAL:
        scale = float(rng.uniform(1.0 - size_jitter, 1.0 + size_jitter))
        if grasp_type in ("all", spec.grasp_type):
            size = tuple(round(s * scale, 5) for s in spec.size)
            objects.append(replace(spec, size=size, mass=round(spec.mass * scale**3, 5)))
    return objects

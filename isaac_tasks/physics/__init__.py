"""Physics backends behind one interface (`interface.PhysicsBackend`)."""

from __future__ import annotations

import numpy as np

from isaac_tasks.physics.interface import PhysicsBackend, SceneQueries

BACKENDS = ("mujoco",)


def make_backend(
    name: str, variants: list, variant_of_env: np.ndarray, queries: SceneQueries, num_threads: int = 0
) -> PhysicsBackend:
    """Build backend `name` for scene variants (one per object), variant_of_env[i] placed in environment i."""
    if name == "mujoco":
        from isaac_tasks.physics.mujoco_backend import MujocoBackend

        return MujocoBackend(variants, variant_of_env, queries, num_threads or None)
    raise ValueError(f"unknown physics backend '{name}'; available: {', '.join(BACKENDS)}")

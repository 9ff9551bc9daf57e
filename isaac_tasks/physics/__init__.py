"""Physics backends behind one interface (`interface.PhysicsBackend`)."""

from __future__ import annotations

import numpy as np

from isaac_tasks.physics.interface import PhysicsBackend, SceneQueries

BACKENDS = ("mujoco", "mujoco_warp", "isaaclab")


def make_backend(
    name: str,
    variants: list,
    variant_of_env: np.ndarray,
    queries: SceneQueries,
    num_threads: int = 0,
    device: str = "cpu",
) -> PhysicsBackend:
    """Build backend `name` for scene variants (one per object), variant_of_env[i] placed in environment i."""
    if name == "mujoco":
        if device != "cpu":
            raise ValueError(f"the mujoco backend runs on the CPU; for device '{device}' use --backend mujoco_warp")
        import mujoco

        if int(mujoco.__version__.split(".")[0]) < 4:
            raise ValueError(
                f"the mujoco backend needs MuJoCo 4.0 (mujoco.batch); this environment has mujoco {mujoco.__version__} "
                "(the Isaac Lab venv pins 3.12): run the embedded backend from a Python 3.11 venv"
            )
        from isaac_tasks.physics.mujoco_backend import MujocoBackend

        return MujocoBackend(variants, variant_of_env, queries, num_threads or None)
    if name == "mujoco_warp":
        try:
            from isaac_tasks.physics.warp_backend import MujocoWarpBackend
        except ModuleNotFoundError as error:
            if error.name not in ("warp", "mujoco_warp"):
                raise
            raise ValueError(
                f"the mujoco_warp backend needs MuJoCo Warp ({error.name} is not installed): pip install -e .[warp]"
            ) from error
        return MujocoWarpBackend(variants, variant_of_env, queries, device)
    if name == "isaaclab":
        try:
            import isaaclab  # noqa: F401
            import isaaclab_newton  # noqa: F401
        except ModuleNotFoundError as error:
            raise ValueError(
                f"the isaaclab backend needs Isaac Lab 3.0 ({error.name} is not installed): in a Python 3.12 venv, "
                'pip install -e ".[isaaclab]" (docs/isaaclab.md)'
            ) from error
        from isaac_tasks.physics.isaaclab_backend import IsaacLabBackend

        return IsaacLabBackend(variants, variant_of_env, queries, device)
    raise ValueError(f"unknown physics backend '{name}'; available: {', '.join(BACKENDS)}")

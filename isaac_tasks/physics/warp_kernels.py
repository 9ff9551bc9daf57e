"""Warp kernels compiled ahead of time for a GPU, on a machine without one (tools/warp_kernel_cache.py)."""

from __future__ import annotations

import os

import warp as wp


def compile_defined_kernels(arch: int, out_dir: str) -> list[str]:
    """Compile every Warp module defined so far in this process for CUDA architecture `arch` (90: Hopper), with
    no GPU needed, into `out_dir` laid out as Warp's kernel cache (one folder per module); returns the folders.

    Modules defined by stepping a scene on Warp's CPU device are the ones a GPU defines for the same scene,
    except those whose code depends on the device or the number of worlds, which a GPU compiles on first use.
    """
    from warp._src.context import user_modules  # Warp keeps no public list of the modules it has seen

    folders = []
    for module in list(user_modules.values()):
        if not any(not kernel.is_generic or kernel.overloads for kernel in module.kernels.values()):
            continue
        folder = os.path.join(out_dir, module.get_module_identifier(module.options["block_dim"]))
        wp.compile_aot_module(module, arch=arch, module_dir=folder)
        folders.append(folder)
    return folders

"""Compile the tasks' MuJoCo Warp kernels for a GPU architecture ahead of time, on a machine without a GPU.

    python tools/warp_kernel_cache.py --out .whl/kernels --arch 90

A fresh GPU machine compiles MuJoCo Warp's kernels on first use, minutes for these scenes (docs/warp_backend.md),
most of it in the collision kernels specialized to each pair of geometry types. Each task steps a few times
on Warp's CPU device, which defines the kernels of its scene; every module is then compiled for the
architecture into OUT, laid out as Warp's kernel cache: copy OUT's folders into the GPU machine's cache
(`python3 -c "import warp; warp.init(); print(warp.config.kernel_cache_dir)"`). Kernels whose code depends on
the device or the number of environments (tiled solvers, the broadphase) are still compiled there, in
seconds.
"""

from __future__ import annotations

import argparse

import cli
import torch

from isaac_tasks import make_env, task_entry
from isaac_tasks.physics.warp_kernels import compile_defined_kernels

TASKS = ("Leap-Grasp-v0", "Orca-Cube-Rotate-v0")  # the scenes of tools/gpu_check.sh (the grasping task: all objects)


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=cli.output_folder, required=True, help="folder for the compiled kernels")
    parser.add_argument(
        "--arch", type=cli.positive_int, default=90, help="CUDA compute capability x10 (H100, H200: 90)"
    )
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), help="tasks whose scenes to compile")
    parser.add_argument(
        "--num_envs", type=cli.positive_int, default=24, help="environments per scene (every object variant)"
    )
    args = parser.parse_args()
    for task in args.tasks:
        task_entry(task)
    for task in args.tasks:
        env = make_env(task, num_envs=args.num_envs, backend="mujoco_warp", device="cpu")
        env.reset()
        for _ in range(2):
            env.step(torch.zeros(args.num_envs, env.num_actions))
        print(f"{task}: scene stepped on Warp's CPU device", flush=True)
    folders = compile_defined_kernels(args.arch, args.out)
    print(f"Compiled {len(folders)} Warp modules for sm_{args.arch} into {args.out}")


if __name__ == "__main__":
    cli.run_main(main)

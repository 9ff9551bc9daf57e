"""Point-cloud observations per second, and their share of a DAgger rollout step, on this machine.

    python tools/benchmark_point_cloud.py --teacher logs/rsl_rl/leap_grasp/<run>/model_1499.pt --num_envs 64 256

For each environment count: the time of one `PointCloudSensor` call (all environments, all cameras),
as point clouds per second (environments x cameras / s) and rays per second; then the time of a whole
DAgger rollout step (point clouds, teacher, student on half of the environments, physics) and the share
of it the point clouds take. The student's training is not part of the step (it is set by
--updates_per_iteration, independent of the observation cost).
"""

from __future__ import annotations

import argparse
import time

import cli

import torch

from distill.point_cloud import PointCloudSensor
from distill.student import ObservationNoiseCfg, Student, student_sizes
from distill.teacher import execute, load_teacher, teacher_command


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


@torch.inference_mode()
def measure(args, num_envs: int) -> dict:
    cfg = cli.point_cloud_cfg(args)
    env, teacher, _ = load_teacher(args.teacher, commands=True, num_envs=num_envs, num_threads=args.num_threads)
    generator = torch.Generator().manual_seed(0)
    sensor = PointCloudSensor(env.physics, cfg, generator)
    student = Student(**student_sizes(env)).eval()
    noise = ObservationNoiseCfg()
    offsets = (torch.zeros(num_envs, 3), torch.zeros(num_envs, student.config["proprio_dim"]))
    obs = env.reset()
    state = {"obs": obs}

    def dagger_step():
        cloud = sensor()
        own = env.proprioception()
        actions = teacher(state["obs"])
        label = teacher_command(env, actions)
        student_command = student.act(*student.perturb(cloud, own, noise, *offsets, generator=generator))[:, 0]
        by_teacher = torch.rand(num_envs, generator=generator) < 0.5
        execute(env, torch.where(by_teacher.unsqueeze(-1), label, student_command))
        state["obs"], _, done, _ = env.step(actions)
        sensor.reset(done.nonzero().squeeze(-1))

    cloud_s = timed(sensor, args.repeats)
    step_s = timed(dagger_step, args.repeats)
    cameras, rays = len(cfg.cameras), len(sensor.cam_rays)
    return {
        "num_envs": num_envs,
        "cameras": cameras,
        "rays_per_env": rays,
        "num_points": cfg.num_points,
        "sampling": cfg.sampling,
        "point_cloud_call_ms": 1000 * cloud_s,
        "point_clouds_per_s": num_envs / cloud_s,
        "camera_images_per_s": num_envs * cameras / cloud_s,
        "rays_per_s": num_envs * rays / cloud_s,
        "dagger_step_ms": 1000 * step_s,
        "point_cloud_share_of_step": cloud_s / step_s,
    }


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--teacher", type=cli.existing_file, required=True, help="a teacher policy checkpoint of a grasping task"
    )
    parser.add_argument("--num_envs", type=cli.positive_int, nargs="+", default=[64, 256])
    parser.add_argument("--num_threads", type=cli.non_negative_int, default=0)
    parser.add_argument("--repeats", type=cli.positive_int, default=10)
    parser.add_argument("--out", type=cli.output_file, help="also write the figures to this JSON file")
    cli.add_point_cloud_args(parser)
    args = parser.parse_args()
    rows = [measure(args, n) for n in args.num_envs]
    cli.report_json({"machine": cli.machine_info(), "device": "cpu", "results": rows}, args.out)


if __name__ == "__main__":
    cli.run_main(main)

"""Simulated depth cameras: a point cloud per environment in the robot base frame (SPEC 6; 000, A.2.5).

Each camera casts one ray per pixel through the physics interface (`PhysicsBackend.ray_cast`), so the
cloud sees every geom of the scene, the robot's own included, as a real depth camera would. A hit is
back-projected into the camera frame and carried into the base frame with the camera's *calibrated*
pose: the true pose plus a per-episode, per-camera error (the extrinsic noise), so the whole cloud of
one camera is displaced rigidly, as a miscalibrated real camera displaces it. The points are cropped to
the workspace box (which by default starts just above the table, so the table top is not part of the
cloud), perturbed by Gaussian noise per point and sampled down to `num_points`. With `segment_body`, only
the pixels that see that body keep their points, as a segmentation mask of the object gives on a real
robot (000 tracks its objects with SAM2): the robot's own surfaces and whatever hides the object are gone.

Camera frame: x right, y down, z forward (the optical axis), pinhole with a vertical field of view.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import torch

from isaac_tasks.math import quat_apply, quat_from_axis_angle
from isaac_tasks.physics.interface import PhysicsBackend


@dataclass(kw_only=True)
class CameraCfg:
    pos: tuple[float, float, float]
    """Optical centre in the robot base frame (m)."""
    target: tuple[float, float, float]
    """Point in the base frame the optical axis goes through; the image's up is the base frame's +z."""
    width: int = 64
    height: int = 48
    vertical_fov_deg: float = 60.0


def _default_cameras() -> list[CameraCfg]:
    # Two cameras in front of the robot, left and right, about 0.6 m from the object region and zoomed on it
    # (42 degrees): a 3 cm object covers about 15 pixels of each 48 x 36 image, against 5 from 1 m at 60 degrees.
    return [
        CameraCfg(pos=(0.95, 0.35, 0.45), target=(0.52, 0.0, 0.1), vertical_fov_deg=42.0),
        CameraCfg(pos=(0.95, -0.35, 0.45), target=(0.52, 0.0, 0.1), vertical_fov_deg=42.0),
    ]


@dataclass(kw_only=True)
class PointCloudCfg:
    cameras: list[CameraCfg] = field(default_factory=_default_cameras)
    num_points: int = 1024
    sampling: str = "random"  # "random" or "fps" (farthest-point sampling)
    workspace_min: tuple[float, float, float] = (0.3, -0.3, 0.01)  # crop box in the base frame (m)
    workspace_max: tuple[float, float, float] = (0.8, 0.3, 0.5)
    extrinsic_pos_noise: float = 0.005  # m, std of each camera's position error, drawn per episode
    extrinsic_rot_noise: float = 0.01  # rad, std of each axis of each camera's rotation error, per episode
    point_noise: float = 0.002  # m, std of Gaussian noise on every point
    segment_body: str | None = None  # keep only the points on this body (an object mask); None: every surface
    base_pos: tuple[float, float, float] = (0.0, 0.0, 0.0)  # robot base in the world frame
    base_quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)

    @classmethod
    def from_dict(cls, values: dict) -> PointCloudCfg:
        cameras = [
            CameraCfg(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()}) for c in values["cameras"]
        ]
        rest = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items() if k != "cameras"}
        return cls(cameras=cameras, **rest)

    def validate(self) -> None:
        if not self.cameras:
            raise ValueError("the point cloud needs at least one camera")
        if self.num_points < 1:
            raise ValueError(f"num_points must be positive, got {self.num_points}")
        if self.sampling not in ("random", "fps"):
            raise ValueError(f"sampling must be 'random' or 'fps', got '{self.sampling}'")
        if any(low >= high for low, high in zip(self.workspace_min, self.workspace_max)):
            raise ValueError(f"workspace_min {self.workspace_min} must be below workspace_max {self.workspace_max}")
        for name in ("extrinsic_pos_noise", "extrinsic_rot_noise", "point_noise"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}")
        for i, camera in enumerate(self.cameras):
            if camera.width < 1 or camera.height < 1 or not 0 < camera.vertical_fov_deg < 180:
                raise ValueError(f"camera {i}: needs a positive resolution and a field of view in (0, 180) degrees")


def look_at(pos: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """(3, 3) rotation whose columns are the camera's x (right), y (down), z (forward) axes."""
    forward = torch.nn.functional.normalize(target - pos, dim=0)
    right = torch.linalg.cross(forward, torch.tensor([0.0, 0.0, 1.0]))
    if right.norm() < 1e-6:
        raise ValueError("a camera looking straight up or down needs another target (its image up is +z)")
    right = torch.nn.functional.normalize(right, dim=0)
    return torch.stack((right, torch.linalg.cross(forward, right), forward), dim=1)


def pixel_rays(camera: CameraCfg) -> torch.Tensor:
    """(H * W, 3) unit ray directions in the camera frame, through pixel centres, row by row."""
    focal = 0.5 * camera.height / math.tan(math.radians(camera.vertical_fov_deg) / 2)
    v, u = torch.meshgrid(torch.arange(camera.height) + 0.5, torch.arange(camera.width) + 0.5, indexing="ij")
    rays = torch.stack(((u - camera.width / 2) / focal, (v - camera.height / 2) / focal, torch.ones_like(u)), -1)
    return torch.nn.functional.normalize(rays.reshape(-1, 3), dim=-1)


def axis_angle_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """(..., 3, 3) rotation matrices of rotation vectors (..., 3)."""
    q = quat_from_axis_angle(rotvec)
    eye = torch.eye(3).expand(*rotvec.shape[:-1], 3, 3)
    return quat_apply(q.unsqueeze(-2).expand(*eye.shape[:-1], 4), eye.transpose(-1, -2)).transpose(-1, -2)


def farthest_point_sample(points: torch.Tensor, num: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, num) indices of a farthest-point subset of (N, M, 3), starting from a random point."""
    n, m, _ = points.shape
    chosen = torch.zeros(n, num, dtype=torch.long)
    chosen[:, 0] = torch.randint(m, (n,), generator=generator)
    distance = torch.full((n, m), math.inf)
    rows = torch.arange(n)
    for k in range(1, num):
        last = points[rows, chosen[:, k - 1]].unsqueeze(1)
        distance = torch.minimum(distance, (points - last).square().sum(-1))
        chosen[:, k] = distance.argmax(dim=1)
    return chosen


class PointCloudSensor:
    """Point clouds (N, num_points, 3) in the base frame of every environment of `physics`."""

    def __init__(self, physics: PhysicsBackend, cfg: PointCloudCfg, generator: torch.Generator):
        cfg.validate()
        self.physics, self.cfg, self.generator = physics, cfg, generator
        self.num_envs = physics.num_envs
        self.base_pos = torch.tensor(cfg.base_pos, dtype=torch.float32)
        self.base_quat = torch.nn.functional.normalize(torch.tensor(cfg.base_quat, dtype=torch.float32), dim=0)
        self.workspace = torch.tensor((cfg.workspace_min, cfg.workspace_max), dtype=torch.float32)
        positions = [torch.tensor(c.pos, dtype=torch.float32) for c in cfg.cameras]
        rotations = [look_at(p, torch.tensor(c.target, dtype=torch.float32)) for p, c in zip(positions, cfg.cameras)]
        rays = [pixel_rays(c) for c in cfg.cameras]
        for i, (camera, pos, rot) in enumerate(zip(cfg.cameras, positions, rotations)):
            if not self._sees_workspace(camera, pos, rot):
                raise ValueError(
                    f"camera {i} at {camera.pos} looking at {camera.target} sees nothing of the workspace box "
                    f"{cfg.workspace_min} .. {cfg.workspace_max}"
                )
        self.camera_of_ray = torch.cat([torch.full((len(r),), i) for i, r in enumerate(rays)])
        self.cam_rays = torch.cat(rays)  # (R, 3) in each ray's camera frame
        # Rays in the base frame (true poses), then in the world frame, cast from every camera's centre.
        self.cam_pos, self.cam_rot = torch.stack(positions), torch.stack(rotations)
        base_dirs = (self.cam_rot[self.camera_of_ray] @ self.cam_rays.unsqueeze(-1)).squeeze(-1)
        self.world_dirs = quat_apply(self.base_quat.expand(len(base_dirs), 4), base_dirs)
        world_pos = quat_apply(self.base_quat.expand(len(positions), 4), self.cam_pos) + self.base_pos
        self.world_origins = world_pos[self.camera_of_ray]
        self.ray_slices = [slice(start - len(r), start) for r, start in zip(rays, itertools.accumulate(map(len, rays)))]
        if cfg.segment_body is not None:  # an unknown body: one line now, not at the first cloud
            physics.ray_cast(self.world_origins[:1], self.world_dirs[:1], cfg.segment_body)
        num_cameras = len(cfg.cameras)
        self.pos_error = torch.zeros(self.num_envs, num_cameras, 3)
        self.rot_error = torch.eye(3).repeat(self.num_envs, num_cameras, 1, 1)
        self.reset(torch.arange(self.num_envs))

    def _sees_workspace(self, camera: CameraCfg, pos: torch.Tensor, rot: torch.Tensor) -> bool:
        """Whether any point of a grid over the workspace box projects into the image in front of the camera."""
        axes = [torch.linspace(low, high, 7) for low, high in zip(self.cfg.workspace_min, self.cfg.workspace_max)]
        grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
        local = (grid - pos) @ rot  # camera-frame coordinates
        focal = 0.5 * camera.height / math.tan(math.radians(camera.vertical_fov_deg) / 2)
        z = local[:, 2]
        u, v = focal * local[:, 0] / z.clamp_min(1e-6), focal * local[:, 1] / z.clamp_min(1e-6)
        return bool(((z > 0) & (u.abs() <= camera.width / 2) & (v.abs() <= camera.height / 2)).any())

    def reset(self, env_ids: torch.Tensor) -> None:
        """Draw new calibration errors for the cameras of `env_ids` (at the start of their episodes)."""
        n, c = len(env_ids), len(self.cfg.cameras)
        if n == 0:
            return
        self.pos_error[env_ids] = self.cfg.extrinsic_pos_noise * torch.randn(n, c, 3, generator=self.generator)
        rotvec = self.cfg.extrinsic_rot_noise * torch.randn(n, c, 3, generator=self.generator)
        self.rot_error[env_ids] = axis_angle_matrix(rotvec)

    def camera_points(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Every pixel's point in the base frame through the calibrated camera poses (N, R, 3), and hits (N, R)."""
        distance = self.physics.ray_cast(self.world_origins, self.world_dirs, self.cfg.segment_body).cpu()
        hit = torch.isfinite(distance)
        local = self.cam_rays * torch.where(hit, distance, torch.zeros_like(distance)).unsqueeze(-1)
        rot = self.rot_error @ self.cam_rot  # (N, C, 3, 3) calibrated orientations
        pos = self.cam_pos + self.pos_error
        points = torch.cat(
            [local[:, rays] @ rot[:, c].transpose(1, 2) + pos[:, c : c + 1] for c, rays in enumerate(self.ray_slices)],
            dim=1,
        )
        return points, hit

    def __call__(self) -> torch.Tensor:
        points, hit = self.camera_points()
        low, high = self.workspace
        valid = hit & ((points >= low) & (points <= high)).all(-1)
        count = valid.sum(1)
        # An environment whose cameras see nothing in the workspace (the robot lifted everything out of
        # view) gets a cloud of points at the base origin: an input the student can learn to read.
        valid[count == 0, 0] = True
        points[count == 0] = 0.0
        count = count.clamp_min(1)
        points = points + self.cfg.point_noise * torch.randn(points.shape, generator=self.generator)
        return self._sample(points, valid, count)

    def _sample(self, points: torch.Tensor, valid: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """(N, num_points, 3): a random order of each environment's valid points, repeated where too few."""
        n, num = len(points), self.cfg.num_points
        candidates = num if self.cfg.sampling == "random" else min(4 * num, points.shape[1])
        keys = torch.rand(valid.shape, generator=self.generator).masked_fill(~valid, 2.0)
        order = keys.argsort(dim=1)[:, :candidates]
        slot = torch.arange(candidates).unsqueeze(0) % count.unsqueeze(1)  # (N, candidates)
        index = order.gather(1, slot)
        chosen = points.gather(1, index.unsqueeze(-1).expand(n, candidates, 3))
        if self.cfg.sampling == "fps":
            picked = farthest_point_sample(chosen, num, self.generator)
            chosen = chosen.gather(1, picked.unsqueeze(-1).expand(n, num, 3))
        return chosen

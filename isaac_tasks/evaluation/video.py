"""Videos of rollouts: a few environments of a running task rendered headless with MuJoCo, tiled into one
frame per step and written as MP4 (ffmpeg from the imageio-ffmpeg wheel) or GIF (Pillow).

    record(env, policy, "rollout.mp4", num_envs=4, episodes=1, camera="front")

renders environments 0..num_envs-1 of `env` while `policy` (observations -> actions) runs from a reset.
A `VideoRecorder` is the same thing as a per-step hook for a loop that already exists, such as
`rollout.run_episodes(env, policy, n, per_step=recorder)` in tools/play.py.

Each environment is rendered from the physics backend's `render_data` (a CPU MjData of that environment
on either backend) with one `mujoco.Renderer` per recorded environment. Without a display MuJoCo needs a
headless GL: `MUJOCO_GL=egl` (set here unless already set, where libEGL is installed) renders on the GPU
where there is one and on the CPU through Mesa otherwise.

Cameras: `front`, `side` and `top` are free cameras aimed at the task's workspace (the task's
`video_cameras` presets: lookat, distance, azimuth, elevation; derived from the model's extent for a
task without them); `camera:<name>` is a camera defined in the model.
"""

from __future__ import annotations

import ctypes.util
import importlib
import math
import os
import tempfile
import time
from typing import Callable

import numpy as np
import torch

if "MUJOCO_GL" not in os.environ and ctypes.util.find_library("EGL"):  # mujoco does not import under egl without it
    os.environ["MUJOCO_GL"] = "egl"

import mujoco  # noqa: E402
from mujoco.rendering.classic import gl_context  # noqa: E402

if getattr(gl_context, "_MUJOCO_GL", None) != os.environ.get("MUJOCO_GL", "").lower().strip():
    # mujoco chooses its GL backend when first imported; it was imported before MUJOCO_GL was set here.
    importlib.reload(gl_context)

CAMERA_VIEWS = ("front", "side", "top", "close")
MODEL_CAMERA_PREFIX = "camera:"
FORMATS = (".mp4", ".gif")
MAX_SIZE = 4096  # pixels per side of one environment's picture
# Free-camera views for a task without presets: azimuth, elevation (deg), distance in model extents.
_GENERIC_VIEWS = {
    "front": (150.0, -25.0, 1.0),
    "side": (90.0, -15.0, 1.0),
    "top": (180.0, -89.0, 1.0),
    "close": (140.0, -25.0, 0.4),
}
_SUCCESS_GREEN = np.array([40, 200, 60], dtype=np.uint8)


def check_camera(camera: str) -> None:
    """Raise ValueError unless `camera` names a view (front, side, top, close) or `camera:<name>`."""
    if camera in CAMERA_VIEWS or (camera.startswith(MODEL_CAMERA_PREFIX) and len(camera) > len(MODEL_CAMERA_PREFIX)):
        return
    raise ValueError(
        f"unknown camera '{camera}'; use one of {', '.join(CAMERA_VIEWS)} or {MODEL_CAMERA_PREFIX}<name> "
        "for a camera of the model"
    )


def check_size(width: int, height: int) -> None:
    if not (16 <= width <= MAX_SIZE and 16 <= height <= MAX_SIZE):
        raise ValueError(f"video resolution must be 16 to {MAX_SIZE} pixels per side, got {width}x{height}")


def check_output(path: str) -> None:
    """Raise ValueError unless `path` ends in .mp4 or .gif and its folder exists or can be made, writable; creates
    nothing (the folder is made when the first frame is written)."""
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ValueError(f"video file must end in {' or '.join(FORMATS)}, got '{path}'")
    if os.path.isdir(path):
        raise ValueError(f"cannot write the video {path}: it is a folder")
    existing = os.path.dirname(os.path.abspath(path))
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing) or not os.access(existing, os.W_OK):
        raise ValueError(f"cannot write the video {path}: {existing} is not a writable folder")


def has_mp4_encoder() -> bool:
    try:
        import imageio_ffmpeg

        return os.path.isfile(imageio_ffmpeg.get_ffmpeg_exe())
    except (ImportError, RuntimeError):
        return False


def _free_camera(lookat, distance: float, azimuth: float, elevation: float) -> mujoco.MjvCamera:
    camera = mujoco.MjvCamera()
    camera.type = mujoco.mjtCamera.mjCAMERA_FREE
    camera.lookat[:] = lookat
    camera.distance, camera.azimuth, camera.elevation = distance, azimuth, elevation
    return camera


def _resolve_camera(env, model: mujoco.MjModel, camera: str) -> mujoco.MjvCamera | int:
    """The camera `update_scene` takes: a free camera for a view, an id for a camera of the model."""
    check_camera(camera)
    if camera.startswith(MODEL_CAMERA_PREFIX):
        name = camera.removeprefix(MODEL_CAMERA_PREFIX)
        camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, name)
        if camera_id < 0:
            names = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f"the model has no camera named '{name}'; its cameras: {', '.join(names) or 'none'}")
        return camera_id
    presets = getattr(env, "video_cameras", None) or {}
    if camera in presets:
        return _free_camera(**presets[camera])
    azimuth, elevation, extents = _GENERIC_VIEWS[camera]
    return _free_camera(model.stat.center, extents * model.stat.extent, azimuth, elevation)


def _renderer(model: mujoco.MjModel, width: int, height: int) -> mujoco.Renderer:
    try:
        return mujoco.Renderer(model, height, width)
    except Exception as error:  # the GL library's own error types, whichever MUJOCO_GL chose
        raise ValueError(
            f"cannot render headless with MUJOCO_GL={os.environ.get('MUJOCO_GL')} ({error}); "
            "install EGL (libegl1) or set MUJOCO_GL=osmesa (libosmesa6)"
        ) from error


class _Writer:
    """Frames into a temporary file beside `path`, renamed to `path` when finished: MP4 through ffmpeg,
    streamed; GIF through Pillow, held until the end."""

    def __init__(self, path: str, fps: float):
        self.path, self.fps = path, fps
        self.ext = os.path.splitext(path)[1].lower()
        folder, name = os.path.split(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, self.tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.splitext(name)[0]}.", suffix=self.ext)
        os.close(fd)
        self.frames: list[np.ndarray] = []
        self._ffmpeg = None
        self.count = 0

    def append(self, frame: np.ndarray) -> None:
        self.count += 1
        if self.ext == ".gif":
            self.frames.append(frame)
            return
        if self._ffmpeg is None:
            import imageio_ffmpeg

            height, width = frame.shape[:2]
            self._ffmpeg = imageio_ffmpeg.write_frames(
                self.tmp, (width, height), fps=self.fps, codec="libx264", quality=7, macro_block_size=2
            )
            self._ffmpeg.send(None)
        self._ffmpeg.send(np.ascontiguousarray(frame))

    def finish(self) -> str:
        if self.count == 0:
            raise ValueError(f"no frames were recorded for {self.path}")
        if self.ext == ".gif":
            from PIL import Image

            images = [Image.fromarray(frame) for frame in self.frames]
            duration = max(20, round(1000.0 / self.fps))  # ms; browsers treat shorter GIF delays as slow
            images[0].save(self.tmp, save_all=True, append_images=images[1:], duration=duration, loop=0)
        else:
            self._ffmpeg.close()
            self._ffmpeg = None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)  # mkstemp made it private
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        if self._ffmpeg is not None:
            try:
                self._ffmpeg.close()
            except Exception:  # ffmpeg may already be gone; the partial file is removed below either way
                pass
        if os.path.exists(self.tmp):
            os.remove(self.tmp)


class VideoRecorder:
    """Renders environments 0..num_envs-1 of `env` each time it is called (after a reset and after every
    step) and writes the tiled frames to `path`.

    It records `length` frames if given, else until every recorded environment has finished `episodes`
    episodes; an environment that finished its episodes keeps showing its last frame until the others
    have too. An environment whose episode ended has already been reset, so an episode's final state is
    not seen. With a task that reports `success`, a recorded environment's picture gets a green border
    while it succeeds. Called as `recorder(env)` it returns {} (a `run_episodes` per-step hook).

    Use it as a context manager, or call `save()` / `discard()`; `save` writes whatever was recorded.
    """

    def __init__(
        self,
        env,
        path: str,
        num_envs: int = 4,
        episodes: int = 1,
        length: int | None = None,
        camera: str = "front",
        width: int = 320,
        height: int = 240,
        fps: float | None = None,
    ):
        check_camera(camera)
        check_size(width, height)
        check_output(path)
        if episodes < 1 or (length is not None and length < 1) or num_envs < 1:
            raise ValueError("num_envs, episodes and length must be positive")
        if os.path.splitext(path)[1].lower() == ".mp4" and not has_mp4_encoder():
            gif = os.path.splitext(path)[0] + ".gif"
            print(f"No MP4 encoder (pip install imageio-ffmpeg); writing {gif} instead", flush=True)
            path = gif
        self.path = path
        self.env_ids = list(range(min(num_envs, env.num_envs)))
        self.episodes, self.length = episodes, length
        self.width, self.height = width, height
        step_dt = env.step_dt * getattr(env, "chunk_length", 1)  # one frame per policy decision
        self.fps = fps or 1.0 / step_dt
        self.cols = math.ceil(math.sqrt(len(self.env_ids)))
        self.rows = math.ceil(len(self.env_ids) / self.cols)

        self._states: list[tuple[mujoco.MjModel, mujoco.MjData]] = []
        self._renderers: list[mujoco.Renderer] = []
        self._camera = None
        self._writer: _Writer | None = None
        try:
            for i in self.env_ids:
                model, data = env.physics.render_data(i)
                model.vis.global_.offwidth = max(model.vis.global_.offwidth, width)
                model.vis.global_.offheight = max(model.vis.global_.offheight, height)
                # the scenes have no lights of their own: a brighter headlight than MuJoCo's default
                model.vis.headlight.ambient[:] = 0.35
                model.vis.headlight.diffuse[:] = 0.65
                model.vis.headlight.specular[:] = 0.15
                if self._camera is None:
                    self._camera = _resolve_camera(env, model, camera)
                self._states.append((model, data))
                self._renderers.append(_renderer(model, width, height))
            self._writer = _Writer(path, self.fps)
        except BaseException:
            self.close()
            raise
        self._tiles = [np.zeros((height, width, 3), dtype=np.uint8) for _ in self.env_ids]
        self._finished = np.zeros(len(self.env_ids), dtype=np.int64)  # episodes finished per environment
        self._last_length: np.ndarray | None = None
        self.frames = 0
        self.render_seconds = 0.0
        """Wall-clock time spent in `capture`: fetching states, rendering, tiling and encoding."""

    @property
    def done(self) -> bool:
        if self.length is not None:
            return self.frames >= self.length
        return bool((self._finished >= self.episodes).all())

    def __call__(self, env) -> dict:
        if not self.done:
            self.capture(env)
        return {}

    def capture(self, env) -> None:
        """Render the recorded environments' current state as the next frame (nothing once done)."""
        if self.done:
            return
        length = env.episode_length_buf[self.env_ids].cpu().numpy()
        if self._last_length is not None:
            # An environment's episode length grows by one per step unless its episode ended (and reset).
            self._finished += length <= self._last_length
        self._last_length = length
        if self.done:  # the last episode just ended: the frame would show the next one's start
            return
        tic = time.perf_counter()
        success = getattr(env, "success", None)
        success = success[self.env_ids].cpu().numpy() if isinstance(success, torch.Tensor) else None
        for k, i in enumerate(self.env_ids):
            if self.length is None and self._finished[k] >= self.episodes:
                continue  # finished: keeps its last picture
            model, data = self._states[k]
            env.physics.render_data(i, model, data)
            renderer = self._renderers[k]
            renderer.update_scene(data, self._camera)
            tile = renderer.render()
            if success is not None and success[k]:
                tile[:4], tile[-4:], tile[:, :4], tile[:, -4:] = (_SUCCESS_GREEN,) * 4
            self._tiles[k] = tile
        self._writer.append(self._tile())
        self.render_seconds += time.perf_counter() - tic
        self.frames += 1

    def _tile(self) -> np.ndarray:
        gap = 2
        height = self.rows * self.height + (self.rows - 1) * gap
        width = self.cols * self.width + (self.cols - 1) * gap
        frame = np.full((height + height % 2, width + width % 2, 3), 255, dtype=np.uint8)  # even sides for yuv420p
        for k, tile in enumerate(self._tiles):
            r, c = divmod(k, self.cols)
            y, x = r * (self.height + gap), c * (self.width + gap)
            frame[y : y + self.height, x : x + self.width] = tile
        return frame

    def save(self) -> str:
        """Write the recorded frames to `path` (atomically) and release the renderers; returns the path."""
        try:
            return self._writer.finish()
        finally:
            self.close()

    def discard(self) -> None:
        self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.discard()  # no-op after finish (the temporary file was renamed)
            self._writer = None
        for renderer in self._renderers:
            renderer.close()
        self._renderers = []

    def __enter__(self) -> VideoRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def record(env, policy: Callable, path: str, **options) -> str:
    """Reset `env`, run `policy` (observations -> actions) on it and write a video of its first `num_envs`
    environments to `path` (.mp4 or .gif): `length` frames, or until each has finished `episodes` episodes;
    `options` are VideoRecorder's. Returns the path written."""
    with VideoRecorder(env, path, **options) as recorder:
        # every episode ends by its time limit at the latest
        max_steps = recorder.length or recorder.episodes * (int(env.max_episode_length) + 1)
        with torch.inference_mode():
            obs = env.reset()
            recorder.capture(env)
            for _ in range(max_steps):
                if recorder.done:
                    break
                obs, _, _, _ = env.step(policy(obs))
                recorder.capture(env)
        return recorder.save()

"""CPU backend: MuJoCo, all environments stepped in C on a thread pool (`mujoco.batch.Batch`).

Each environment is one simulation of a persistent batch. After a control step the batch computes the
position and velocity stages at the new state, so poses and velocities are current; contact forces are
those of the last substep's constraint solve. Object variants are compiled models of the same layout;
the model fields in which they differ become per-environment fields of the batch.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
import torch
from mujoco import batch as mjbatch

from isaac_tasks.math import quat_apply_inverse, quat_mul
from isaac_tasks.physics.interface import BackendInfo, PhysicsBackend, PhysicsState, SceneQueries
from isaac_tasks.physics.scene_index import SceneIndex, _name_id, compile_variants

_UNSTABLE_WARNINGS = [
    int(mujoco.mjtWarning.mjWARN_BADQPOS),
    int(mujoco.mjtWarning.mjWARN_BADQVEL),
    int(mujoco.mjtWarning.mjWARN_BADQACC),
]


def available_memory() -> int:
    """Bytes of memory available to a new allocation (MemAvailable; all physical memory where unknown)."""
    try:
        with open("/proc/meminfo") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def check_memory(model: mujoco.MjModel, num_envs: int) -> None:
    """MemoryError, before anything is allocated, when `num_envs` simulations of `model` cannot fit in memory."""
    data = mujoco.MjData(model)
    needed, available = num_envs * (data.nbuffer + data.narena), available_memory()
    if needed > available:
        raise MemoryError(
            f"num_envs {num_envs}: the simulations need {needed / 2**30:.1f} GiB, {available / 2**30:.1f} GiB "
            "is available"
        )


class MujocoBackend(SceneIndex, PhysicsBackend):
    def __init__(
        self,
        variants: list[mujoco.MjSpec],
        variant_of_env: np.ndarray,
        queries: SceneQueries,
        num_threads: int | None = None,
    ):
        self.num_envs = len(variant_of_env)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.device = torch.device("cpu")
        self.queries = queries
        models = compile_variants(variants, queries.contact_pairs)
        self.model = models[0]
        self._num_threads = num_threads or os.cpu_count() or 1
        check_memory(self.model, self.num_envs)
        self.batch = mjbatch.Batch(self.model, self.num_envs, nthread=self._num_threads, persistent=True)
        self._apply_variants(models, np.asarray(variant_of_env))
        self._index(queries)
        self._bind()
        self.batch.forward()
        self._warnings = self._warning_counts()
        self.refresh()

    # --- construction -------------------------------------------------------------------------
    def _apply_variants(self, models: list[mujoco.MjModel], variant_of_env: np.ndarray) -> None:
        if len(models) == 1:
            return
        for name in sorted(mjbatch.MODEL_FIELDS):
            if name.startswith("opt."):
                continue
            values = [np.asarray(getattr(m, name)) for m in models]
            if all(np.array_equal(values[0], v) for v in values[1:]):
                continue
            self.batch.expand(name)[:] = np.stack(values)[variant_of_env]

    def _bind(self) -> None:
        b = self.batch
        self._qpos, self._qvel, self._ctrl = b.bind("qpos"), b.bind("qvel"), b.bind("ctrl")
        self._qfrc_applied, self._xfrc_applied = b.bind("qfrc_applied"), b.bind("xfrc_applied")
        self._warmstart, self._time = b.bind("qacc_warmstart"), b.bind("time")
        self._xpos, self._xquat, self._cvel = b.bind("xpos"), b.bind("xquat"), b.bind("cvel")
        self._subtree_com = b.bind("subtree_com")
        self._site_xpos = b.bind("site_xpos")
        self._xanchor, self._xaxis = b.bind("xanchor"), b.bind("xaxis")
        self._sensordata = b.bind("sensordata")
        self._mocap_pos, self._mocap_quat = b.bind("mocap_pos"), b.bind("mocap_quat")

    # --- interface ----------------------------------------------------------------------------
    @property
    def info(self) -> BackendInfo:
        return BackendInfo(
            name="mujoco",
            physics_dt=float(self.model.opt.timestep),
            num_threads=self._num_threads,
            extra={"mujoco_version": mujoco.__version__},
        )

    def _warning_counts(self) -> np.ndarray:
        return self.batch.warning[:, _UNSTABLE_WARNINGS, 1].sum(axis=1).copy()

    def step(self, num_substeps: int) -> torch.Tensor:
        try:
            self.batch.step(nstep=num_substeps, stage=mujoco.mjtStage.mjSTAGE_VEL)
        except mjbatch.SimulationError:
            pass  # the failed simulations are flagged in `status` and reported below
        warnings = self._warning_counts()
        diverged = (self.batch.status != 0) | (warnings > self._warnings)
        diverged |= ~np.isfinite(self._qpos).all(axis=1) | ~np.isfinite(self._qvel).all(axis=1)
        self._warnings = warnings
        self.refresh()
        return torch.from_numpy(diverged)

    def reset_envs(self, env_ids, joint_pos, joint_vel, root_poses, root_velocities=None) -> None:
        ids = env_ids.cpu().numpy()
        rows = ids[:, None]
        self._qpos[rows, self._qpos_adr] = joint_pos.cpu().numpy()
        self._qvel[rows, self._dof_adr] = joint_vel.cpu().numpy()
        self._ctrl[rows, self._actuator] = joint_pos.cpu().numpy()
        for name, (pos, quat) in root_poses.items():
            qadr, dadr = self._free[name]
            self._qpos[ids, qadr : qadr + 3] = pos.cpu().numpy()
            self._qpos[ids, qadr + 3 : qadr + 7] = quat.cpu().numpy()
            lin_vel, ang_vel = (root_velocities or {}).get(name, (torch.zeros_like(pos), torch.zeros_like(pos)))
            self._qvel[ids, dadr : dadr + 3] = lin_vel.cpu().numpy()
            # a free joint's angular velocity is expressed in the body frame
            self._qvel[ids, dadr + 3 : dadr + 6] = quat_apply_inverse(quat, ang_vel).cpu().numpy()
        self._warmstart[ids] = 0.0
        self._qfrc_applied[ids] = 0.0
        self._xfrc_applied[ids] = 0.0
        self._time[ids] = 0.0
        self.batch.forward(ids)
        self.refresh()

    def set_kinematic_pose(self, body, pos, quat) -> None:
        self._mocap_pos[:, self._mocap[body]] = pos.cpu().numpy()
        self._mocap_quat[:, self._mocap[body]] = quat.cpu().numpy()

    def set_joint_position_target(self, targets: torch.Tensor) -> None:
        self._ctrl[:, self._actuator] = targets.cpu().numpy()

    def set_joint_effort(self, torques: torch.Tensor) -> None:
        self._qfrc_applied[:, self._dof_adr] = torques.cpu().numpy()

    def set_body_wrench(self, forces: torch.Tensor, torques: torch.Tensor) -> None:
        self._xfrc_applied[:, self._body, :3] = forces.cpu().numpy()
        self._xfrc_applied[:, self._body, 3:] = torques.cpu().numpy()

    def site_jacobian(self, site: str) -> torch.Tensor:
        # From the joint axes and anchors that the last step left current (a call into the engine here
        # would discard its computed stages).
        axis = torch.from_numpy(self._xaxis[:, self._joint]).float()
        anchor = torch.from_numpy(self._xanchor[:, self._joint]).float()
        return self._site_jacobian(site, axis, anchor)

    def ray_cast(self, origins: torch.Tensor, directions: torch.Tensor, body: str | None = None) -> torch.Tensor:
        # Batch.ray runs each simulation's kinematics from its state on the thread pool; bound fields stay.
        shape = torch.broadcast_shapes(origins.shape, directions.shape, (self.num_envs, 1, 3))
        dist, geom = self.batch.ray(origins.expand(shape).cpu().numpy(), directions.expand(shape).cpu().numpy())
        miss = dist < 0
        if body is not None:  # variants share one layout: geom and body ids are the model's
            miss |= self.model.geom_bodyid[geom] != _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        return torch.from_numpy(np.where(miss, np.inf, dist)).float()

    def render_data(self, env_id, model=None, data=None):
        # The persistent batch holds each simulation's whole MjData, positions computed by the last step.
        if model is None:
            model = self.batch.get_model(env_id)
        return model, self.batch.get_data(env_id, data)

    def set_friction(self, env_ids, body, friction) -> None:
        body_id = _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        geoms = np.flatnonzero(self.model.geom_bodyid == body_id)
        values = self.batch.expand("geom_friction")
        values[env_ids.cpu().numpy()[:, None], geoms, 0] = friction.cpu().numpy()[:, None]

    def scale_mass(self, env_ids, body, scale) -> None:
        ids = env_ids.cpu().numpy()
        body_id = _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        if self._nominal_mass_inertia is None:  # first change: remember every environment's nominal values
            self._nominal_mass_inertia = (
                self.batch.expand("body_mass").copy(),
                self.batch.expand("body_inertia").copy(),
            )
        nominal_mass, nominal_inertia = self._nominal_mass_inertia
        factor = scale.cpu().numpy().astype(np.float64)
        self.batch.expand("body_mass")[ids, body_id] = nominal_mass[ids, body_id] * factor
        self.batch.expand("body_inertia")[ids, body_id] = nominal_inertia[ids, body_id] * factor[:, None]
        self.batch.set_const(ids)

    def scale_joint_gains(self, env_ids, stiffness_scale, damping_scale) -> None:
        rows = env_ids.cpu().numpy()[:, None]
        kp = self._nominal_kp * stiffness_scale.cpu().numpy()
        damping = damping_scale.cpu().numpy()
        gain, bias = self.batch.expand("actuator_gainprm"), self.batch.expand("actuator_biasprm")
        gain[rows, self._actuator, 0] = kp
        bias[rows, self._actuator, 1] = -kp
        bias[rows, self._actuator, 2] = -self._nominal_kv * damping
        self.batch.expand("dof_damping")[rows, self._dof_adr] = self._nominal_damping * damping

    def set_joint_limits(self, env_ids, limits) -> None:
        self.batch.expand("jnt_range")[env_ids.cpu().numpy()[:, None], self._joint] = limits.cpu().numpy()

    def set_gravity(self, env_ids, gravity) -> None:
        self.batch.expand("opt.gravity")[env_ids.cpu().numpy()] = gravity.cpu().numpy()

    # --- state --------------------------------------------------------------------------------
    def refresh(self) -> None:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a)).float()

        xpos = self._xpos[:, self._body]
        cvel = self._cvel[:, self._body]  # (angular, linear) at the subtree centre of mass
        offset = xpos - self._subtree_com[:, self._root_of_body]
        lin_vel = cvel[..., 3:] + np.cross(cvel[..., :3], offset)
        force = self._sensordata[:, self._contact_adr[:, None] + np.arange(1, 4)]
        found = self._sensordata[:, self._contact_adr] > 0
        self.state = PhysicsState(
            joint_pos=t(self._qpos[:, self._qpos_adr]),
            joint_vel=t(self._qvel[:, self._dof_adr]),
            body_pos=t(xpos),
            body_quat=t(self._xquat[:, self._body]),
            body_lin_vel=t(lin_vel),
            body_ang_vel=t(cvel[..., :3]),
            site_pos=t(self._site_xpos[:, self._site]),
            site_quat=quat_mul(t(self._xquat[:, self._site_body]), self._site_local_quat),
            contact_force=t(np.linalg.norm(force, axis=-1) * found),
            in_contact=torch.from_numpy(found.copy()),
        )

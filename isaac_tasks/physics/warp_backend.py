"""GPU backend: MuJoCo Warp (`mujoco_warp` on NVIDIA Warp), every environment one world of a batched model.

State, commands and per-environment parameters live in device tensors that the engine and torch share
without copies (`wp.to_torch` / `wp.from_torch`); a step is a fixed sequence of kernel launches, replayed
as one CUDA graph per substep count on a GPU and launched one by one on the CPU device.

Object variants differ in geometry type, which a Warp model cannot vary per world, so each variant is its
own Warp model over the worlds that hold it. Their state and parameter arrays are views into one tensor
per field whose rows are grouped by variant; `_row` maps an environment to its row. After a control step
the position and velocity stages are recomputed at the new state and contact forces are those of the
last substep's constraint solve, as in the CPU backend.
"""

from __future__ import annotations

import contextlib
import copy

import mujoco
import mujoco_warp as mjw
import mujoco_warp._src.types as mjw_types
import numpy as np
import torch
import warp as wp

from isaac_tasks.math import quat_apply_inverse, quat_mul
from isaac_tasks.physics.interface import BackendInfo, PhysicsBackend, PhysicsState, SceneQueries
from isaac_tasks.physics.scene_index import SceneIndex, _name_id, compile_variants

# Data fields the backend reads or writes, shared with torch.
_DATA_FIELDS = (
    "qpos",
    "qvel",
    "qacc",
    "ctrl",
    "qfrc_applied",
    "xfrc_applied",
    "qacc_warmstart",
    "time",
    "overflow",
    "xpos",
    "xquat",
    "cvel",
    "subtree_com",
    "site_xpos",
    "xanchor",
    "xaxis",
    "sensordata",
    "mocap_pos",
    "mocap_quat",
)
# Model fields randomized per environment, shared with torch.
_RANDOMIZED_FIELDS = (
    "geom_friction",
    "body_mass",
    "body_inertia",
    "actuator_gainprm",
    "actuator_biasprm",
    "dof_damping",
    "jnt_range",
)
# Model fields that `set_const` derives from mass and inertia: one row per world so worlds do not race.
_DERIVED_FIELDS = (
    "body_subtreemass",
    "body_invweight0",
    "dof_invweight0",
    "tendon_invweight0",
    "actuator_acc0",
    "geom_aabb",
    "geom_rbound",
)
# Overflows that drop contacts or constraints: the engine rejected the world's step.
_LOST_CONSTRAINTS = (
    mjw.OverflowType.NEFC | mjw.OverflowType.NJMAX_NNZ | mjw.OverflowType.BROADPHASE | mjw.OverflowType.NARROWPHASE
)
_MAXVAL = 1e10  # MuJoCo's bound on qpos and qvel (mjMAXVAL) beyond which its CPU checks reject a state


def _shared(owners: list, name: str) -> torch.Tensor:
    """Concatenate field `name` of `owners` (variant models or data) into one tensor and make each owner's
    array a view of its rows."""
    arrays = [getattr(owner, name) for owner in owners]
    whole = torch.cat([wp.to_torch(a) for a in arrays])
    start = 0
    for owner, array in zip(owners, arrays):
        setattr(owner, name, wp.from_torch(whole[start : start + array.shape[0]], dtype=array.dtype))
        start += array.shape[0]
    return whole


class MujocoWarpBackend(SceneIndex, PhysicsBackend):
    def __init__(
        self,
        variants: list[mujoco.MjSpec],
        variant_of_env: np.ndarray,
        queries: SceneQueries,
        device: str = "cuda:0",
        contacts_per_env: int = 64,
    ):
        variant_of_env = np.asarray(variant_of_env)
        self.num_envs = len(variant_of_env)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.device = torch.device(device)
        if self.device.type == "cuda" and not (torch.cuda.is_available() and wp.is_cuda_available()):
            raise ValueError(f"device '{device}': no CUDA GPU visible to torch and Warp; use --device cpu")
        if self.device.type == "cuda" and (self.device.index or 0) >= torch.cuda.device_count():
            raise ValueError(f"device '{device}': this machine has {torch.cuda.device_count()} CUDA GPU(s)")
        self.queries = queries
        self._wp_device = wp.get_device(str(self.device))
        if self.device.type == "cuda":
            # torch on Warp's stream of the device, so that their work on the shared tensors stays in order
            torch.cuda.set_stream(wp.stream_to_torch(wp.get_stream(self._wp_device)))
        models = compile_variants(variants, queries.contact_pairs)
        self.model = models[0]
        self._variant_models, self._variant_of_env = models, variant_of_env  # for rendering
        self._body_of_geom = torch.as_tensor(self.model.geom_bodyid, device=self.device)  # one layout for all variants
        self._index(queries)
        self._index_on_device()

        order = np.argsort(variant_of_env, kind="stable")  # storage rows grouped by variant
        self._row = torch.as_tensor(np.argsort(order), device=self.device)
        self._env_of_row = torch.as_tensor(order, device=self.device)
        counts = np.bincount(variant_of_env, minlength=len(models))
        with self._memory_hint(), wp.ScopedDevice(self._wp_device):
            self._worlds = [
                self._put(mjm, int(count), contacts_per_env) for mjm, count in zip(models, counts) if count > 0
            ]
            self._share()
        self._graphs: dict[str, wp.Graph] = {}
        self._launch("forward", self._forward)
        self.refresh()

    # --- construction -------------------------------------------------------------------------
    def _index_on_device(self) -> None:
        def t(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a, dtype=np.int64), device=self.device)

        dev = self.device
        self._joint_t, self._qpos_adr_t, self._dof_adr_t = t(self._joint), t(self._qpos_adr), t(self._dof_adr)
        self._actuator_t, self._body_t, self._site_t = t(self._actuator), t(self._body), t(self._site)
        self._site_body_t, self._root_of_body_t = t(self._site_body), t(self._root_of_body)
        self._contact_adr_t = t(self._contact_adr)
        self._is_hinge, self._moves_site = self._is_hinge.to(dev), self._moves_site.to(dev)
        self._site_local_quat = self._site_local_quat.to(dev)
        self.joint_limits = self.joint_limits.to(dev)
        self._nominal_kp = torch.as_tensor(self._nominal_kp, dtype=torch.float32, device=dev)
        self._nominal_kv = torch.as_tensor(self._nominal_kv, dtype=torch.float32, device=dev)
        self._nominal_damping = torch.as_tensor(self._nominal_damping, dtype=torch.float32, device=dev)

    @staticmethod
    def _put(mjm: mujoco.MjModel, num_worlds: int, contacts_per_env: int) -> tuple[mjw.Model, mjw.Data]:
        mjm = copy.copy(mjm)
        mjm.opt.jacobian = mujoco.mjtJacobian.mjJAC_AUTO  # MuJoCo Warp's own choice; sparse is measured on the CPU only
        mjd = mujoco.MjData(mjm)
        mujoco.mj_forward(mjm, mjd)
        m = mjw.put_model(mjm, batch_sizes=dict.fromkeys(_RANDOMIZED_FIELDS + _DERIVED_FIELDS, num_worlds))
        m.opt.gravity = wp.array(np.tile(mjm.opt.gravity, (num_worlds, 1)), dtype=wp.vec3)
        # a contact takes up to 2 (condim - 1) constraint rows in a pyramidal cone; joint limits one each
        njmax = contacts_per_env * 2 * (int(mjm.geom_condim.max()) - 1) + mjm.njnt
        d = mjw.put_data(mjm, mjd, nworld=num_worlds, nconmax=contacts_per_env, njmax=njmax)
        return m, d

    def _share(self) -> None:
        models, datas = [m for m, _ in self._worlds], [d for _, d in self._worlds]
        for name in _DATA_FIELDS:
            setattr(self, f"_{name}", _shared(datas, name))
        for name in _RANDOMIZED_FIELDS:
            setattr(self, f"_{name}", _shared(models, name))
        self._gravity = _shared([m.opt for m in models], "gravity")
        self._nominal_mass = self._body_mass.clone()
        self._nominal_inertia = self._body_inertia.clone()

    @contextlib.contextmanager
    def _memory_hint(self):
        """Turn running out of device memory into an error that suggests a size."""
        try:
            yield
        except (RuntimeError, MemoryError) as error:
            message = str(error).lower()
            if isinstance(error, MemoryError) or "out of memory" in message or "failed to allocate" in message:
                raise ValueError(
                    f"out of memory on {self.device} for {self.num_envs} environments; "
                    f"try a smaller size such as --num_envs {max(1, self.num_envs // 2)}"
                ) from error
            raise

    # --- engine calls -------------------------------------------------------------------------
    def _launch(self, key: str, launches) -> None:
        """Run `launches` (Warp kernel launches only); on a GPU captured once as a CUDA graph and replayed."""
        with wp.ScopedDevice(self._wp_device):
            if self.device.type != "cuda":
                launches()
                return
            if key not in self._graphs:
                with self._memory_hint(), wp.ScopedCapture(device=self._wp_device) as capture:
                    launches()
                self._graphs[key] = capture.graph
            wp.capture_launch(self._graphs[key])

    def _forward(self) -> None:
        for m, d in self._worlds:
            mjw.forward(m, d)

    def _substeps(self, num_substeps: int) -> None:
        for _ in range(num_substeps):
            for m, d in self._worlds:
                mjw.step(m, d)
        for m, d in self._worlds:  # position and velocity stages at the new state
            mjw.kinematics(m, d)
            mjw.com_pos(m, d)
            mjw.com_vel(m, d)

    # --- interface ----------------------------------------------------------------------------
    @property
    def info(self) -> BackendInfo:
        return BackendInfo(
            name="mujoco_warp",
            physics_dt=float(self.model.opt.timestep),
            num_threads=1,
            extra={
                "device": str(self.device),
                "graph_capture": self.device.type == "cuda",
                "warp_models": len(self._worlds),
                "mujoco_warp_version": mjw.__version__,
                "warp_version": wp.__version__,
            },
        )

    def advance(self, num_substeps: int) -> None:
        """Step the engine alone, without refreshing `state` or checking divergence (benchmarks time this)."""
        self._launch(f"step{num_substeps}", lambda: self._substeps(num_substeps))

    def step(self, num_substeps: int) -> torch.Tensor:
        self.advance(num_substeps)
        self.refresh()
        qpos, qvel = self._qpos[self._row], self._qvel[self._row]
        out_of_bounds = (qpos.abs() > _MAXVAL).any(-1) | (qvel.abs() > _MAXVAL).any(-1)
        non_finite = ~(
            torch.isfinite(qpos).all(-1) & torch.isfinite(qvel).all(-1) & torch.isfinite(self._qacc[self._row]).all(-1)
        )
        rejected = (self._overflow[self._row] & int(_LOST_CONSTRAINTS)) != 0
        return out_of_bounds | non_finite | rejected

    def reset_envs(self, env_ids, joint_pos, joint_vel, root_poses, root_velocities=None) -> None:
        rows = self._row[env_ids.to(self.device)]
        column = rows.unsqueeze(-1)
        self._qpos[column, self._qpos_adr_t] = joint_pos.to(self.device)
        self._qvel[column, self._dof_adr_t] = joint_vel.to(self.device)
        self._ctrl[column, self._actuator_t] = joint_pos.to(self.device)
        for name, (pos, quat) in root_poses.items():
            qadr, dadr = self._free[name]
            pos, quat = pos.to(self.device), quat.to(self.device)
            self._qpos[rows, qadr : qadr + 3] = pos
            self._qpos[rows, qadr + 3 : qadr + 7] = quat
            lin_vel, ang_vel = (root_velocities or {}).get(name, (torch.zeros_like(pos), torch.zeros_like(pos)))
            self._qvel[rows, dadr : dadr + 3] = lin_vel.to(self.device)
            # a free joint's angular velocity is expressed in the body frame
            self._qvel[rows, dadr + 3 : dadr + 6] = quat_apply_inverse(quat, ang_vel.to(self.device))
        for field in (self._qacc_warmstart, self._qfrc_applied, self._xfrc_applied, self._time, self._overflow):
            field[rows] = 0
        # The engine recomputes every world; the others keep the contact forces of their last step.
        sensordata = self._sensordata.clone()
        self._launch("forward", self._forward)
        keep = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        keep[rows] = False
        self._sensordata[keep] = sensordata[keep]
        self.refresh()

    def set_kinematic_pose(self, body, pos, quat) -> None:
        self._mocap_pos[self._row, self._mocap[body]] = pos.to(self.device)
        self._mocap_quat[self._row, self._mocap[body]] = quat.to(self.device)

    def set_joint_position_target(self, targets: torch.Tensor) -> None:
        self._ctrl[self._row.unsqueeze(-1), self._actuator_t] = targets.to(self.device)

    def set_joint_effort(self, torques: torch.Tensor) -> None:
        self._qfrc_applied[self._row.unsqueeze(-1), self._dof_adr_t] = torques.to(self.device)

    def set_body_wrench(self, forces: torch.Tensor, torques: torch.Tensor) -> None:
        wrench = torch.cat((forces, torques), dim=-1).to(self.device)
        self._xfrc_applied[self._row.unsqueeze(-1), self._body_t] = wrench

    def site_jacobian(self, site: str) -> torch.Tensor:
        column = self._row.unsqueeze(-1)
        return self._site_jacobian(site, self._xaxis[column, self._joint_t], self._xanchor[column, self._joint_t])

    def ray_cast(self, origins: torch.Tensor, directions: torch.Tensor, body: str | None = None) -> torch.Tensor:
        shape = torch.broadcast_shapes(origins.shape, directions.shape, (self.num_envs, 1, 3))
        points = origins.to(self.device, torch.float32).expand(shape)[self._env_of_row].contiguous()
        rays = directions.to(self.device, torch.float32).expand(shape)[self._env_of_row].contiguous()
        dist = torch.empty(shape[:2], device=self.device)
        geom = torch.empty(shape[:2], dtype=torch.int32, device=self.device)
        normal = torch.empty(shape, device=self.device)
        every_group, no_body = (
            mjw_types.vec6f(-1, -1, -1, -1, -1, -1),
            wp.full(shape[1], -1, dtype=int, device=self._wp_device),
        )
        start = 0
        for m, d in self._worlds:  # one launch per object variant, over its rows
            rows = slice(start, start + d.nworld)
            start += d.nworld
            vec3 = [wp.from_torch(a[rows], dtype=wp.vec3) for a in (points, rays, normal)]
            mjw.rays(m, d, vec3[0], vec3[1], every_group, True, no_body, wp.from_torch(dist[rows]),
                     wp.from_torch(geom[rows]), vec3[2])  # fmt: skip
        dist, geom = dist[self._row], geom[self._row]
        miss = dist < 0
        if body is not None:
            body_id = _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
            miss |= self._body_of_geom[geom.long().clamp_min(0)] != body_id
        return torch.where(miss, torch.inf, dist)

    def render_data(self, env_id, model=None, data=None):
        # The state comes from the device into a CPU MjData of the environment's variant.
        if model is None:
            model = copy.copy(self._variant_models[self._variant_of_env[env_id]])
        if data is None:
            data = mujoco.MjData(model)
        row = self._row[env_id]
        data.qpos[:] = self._qpos[row].cpu().numpy()
        data.mocap_pos[:] = self._mocap_pos[row].cpu().numpy()
        data.mocap_quat[:] = self._mocap_quat[row].cpu().numpy()
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_camlight(model, data)
        return model, data

    def set_friction(self, env_ids, body, friction) -> None:
        body_id = _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        geoms = torch.as_tensor(np.flatnonzero(self.model.geom_bodyid == body_id), device=self.device)
        rows = self._row[env_ids.to(self.device)].unsqueeze(-1)
        self._geom_friction[rows, geoms, 0] = friction.to(self.device, torch.float32).unsqueeze(-1)

    def scale_mass(self, env_ids, body, scale) -> None:
        body_id = _name_id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        rows = self._row[env_ids.to(self.device)]
        factor = scale.to(self.device, torch.float32)
        self._body_mass[rows, body_id] = self._nominal_mass[rows, body_id] * factor
        self._body_inertia[rows, body_id] = self._nominal_inertia[rows, body_id] * factor.unsqueeze(-1)
        with wp.ScopedDevice(self._wp_device):  # derived constants of every world (not captured: resets only)
            for m, d in self._worlds:
                mjw.set_const(m, d, groups=mjw.SetConstGroup.FIXED | mjw.SetConstGroup.INERT0)

    def scale_joint_gains(self, env_ids, stiffness_scale, damping_scale) -> None:
        rows = self._row[env_ids.to(self.device)].unsqueeze(-1)
        kp = self._nominal_kp * stiffness_scale.to(self.device)
        damping = damping_scale.to(self.device)
        self._actuator_gainprm[rows, self._actuator_t, 0] = kp
        self._actuator_biasprm[rows, self._actuator_t, 1] = -kp
        self._actuator_biasprm[rows, self._actuator_t, 2] = -self._nominal_kv * damping
        self._dof_damping[rows, self._dof_adr_t] = self._nominal_damping * damping

    def set_joint_limits(self, env_ids, limits) -> None:
        rows = self._row[env_ids.to(self.device)].unsqueeze(-1)
        self._jnt_range[rows, self._joint_t] = limits.to(self.device, torch.float32)

    def set_gravity(self, env_ids, gravity) -> None:
        self._gravity[self._row[env_ids.to(self.device)]] = gravity.to(self.device, torch.float32)

    # --- state --------------------------------------------------------------------------------
    def refresh(self) -> None:
        column = self._row.unsqueeze(-1)
        xpos = self._xpos[column, self._body_t]
        cvel = self._cvel[column, self._body_t]  # (angular, linear) at the subtree centre of mass
        offset = xpos - self._subtree_com[column, self._root_of_body_t]
        contact_adr = self._contact_adr_t.unsqueeze(-1) + torch.arange(4, device=self.device)  # found, force (3)
        contact = self._sensordata[column.unsqueeze(-1), contact_adr]
        found = contact[..., 0] > 0
        self.state = PhysicsState(
            joint_pos=self._qpos[column, self._qpos_adr_t],
            joint_vel=self._qvel[column, self._dof_adr_t],
            body_pos=xpos,
            body_quat=self._xquat[column, self._body_t],
            body_lin_vel=cvel[..., 3:] + torch.cross(cvel[..., :3], offset, dim=-1),
            body_ang_vel=cvel[..., :3],
            site_pos=self._site_xpos[column, self._site_t],
            site_quat=quat_mul(self._xquat[column, self._site_body_t], self._site_local_quat),
            contact_force=torch.linalg.vector_norm(contact[..., 1:], dim=-1) * found,
            in_contact=found,
        )

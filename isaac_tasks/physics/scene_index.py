"""The MuJoCo model's side of every backend: the declared quantities' indices in a compiled scene, and the scene
variants compiled with one contact sensor per declared pair."""

from __future__ import annotations

import mujoco
import numpy as np
import torch

from isaac_tasks.physics.interface import PhysicsState, SceneQueries


def _name_id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    idx = mujoco.mj_name2id(model, kind, name)
    if idx < 0:
        raise ValueError(f"scene has no {kind.name.removeprefix('mjOBJ_').lower()} named '{name}'")
    return idx


def contact_sensor_name(body_a: str, body_b: str) -> str:
    return f"contact:{body_a}:{body_b}"


def _add_contact_sensors(spec: mujoco.MjSpec, pairs: tuple[tuple[str, str], ...]) -> None:
    data_bits = (1 << int(mujoco.mjtConDataField.mjCONDATA_FOUND)) | (1 << int(mujoco.mjtConDataField.mjCONDATA_FORCE))
    for body_a, body_b in pairs:
        sensor = spec.add_sensor(
            name=contact_sensor_name(body_a, body_b),
            type=mujoco.mjtSensor.mjSENS_CONTACT,
            objtype=mujoco.mjtObj.mjOBJ_BODY,
            objname=body_a,
            reftype=mujoco.mjtObj.mjOBJ_BODY,
            refname=body_b,
        )
        sensor.intprm[0] = data_bits
        sensor.intprm[1] = 3  # reduce: net force over all contacts of the pair
        sensor.intprm[2] = 1  # one (reduced) contact reported


def compile_variants(variants: list[mujoco.MjSpec], pairs: tuple[tuple[str, str], ...]) -> list[mujoco.MjModel]:
    """The scene variants compiled with a contact sensor per pair; they must share one layout."""
    models = []
    for spec in variants:
        spec = spec.copy()
        _add_contact_sensors(spec, pairs)
        models.append(spec.compile())
    layout = ("nq", "nv", "nu", "nbody", "njnt", "ngeom", "nsite", "nsensordata")
    for m in models[1:]:
        for size in layout:
            if getattr(m, size) != getattr(models[0], size):
                raise ValueError(f"object variants must share one layout; '{size}' differs")
    return models


class SceneIndex:
    """Indices of the declared quantities in `self.model`, shared by the MuJoCo and MuJoCo Warp backends."""

    model: mujoco.MjModel
    queries: SceneQueries
    state: PhysicsState

    def _index(self, q: SceneQueries) -> None:
        m = self.model
        jnt = [_name_id(m, mujoco.mjtObj.mjOBJ_JOINT, n) for n in q.joints]
        hinge_or_slide = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
        for name, j in zip(q.joints, jnt):
            if int(m.jnt_type[j]) not in hinge_or_slide:
                raise ValueError(f"joint '{name}' must be a hinge or slide joint")
        self._joint = np.array(jnt, dtype=np.int64)
        self._is_hinge = torch.from_numpy(m.jnt_type[jnt] == int(mujoco.mjtJoint.mjJNT_HINGE))
        self._qpos_adr = m.jnt_qposadr[jnt]
        self._dof_adr = m.jnt_dofadr[jnt]
        self._actuator = np.array([_name_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, n) for n in q.joints], dtype=np.int64)
        self._body = np.array([_name_id(m, mujoco.mjtObj.mjOBJ_BODY, n) for n in q.bodies], dtype=np.int64)
        self._site = np.array([_name_id(m, mujoco.mjtObj.mjOBJ_SITE, n) for n in q.sites], dtype=np.int64)
        self._site_body = m.site_bodyid[self._site]
        self._site_local_quat = torch.tensor(m.site_quat[self._site], dtype=torch.float32)
        # moves_site[s, j]: joint j is on the kinematic chain of site s
        moves_site = np.zeros((len(self._site), len(jnt)), dtype=bool)
        for i, site in enumerate(self._site):
            body = m.site_bodyid[site]
            while body > 0:
                moves_site[i] |= m.jnt_bodyid[jnt] == body
                body = m.body_parentid[body]
        self._moves_site = torch.from_numpy(moves_site)
        self._root_of_body = m.body_rootid[self._body]
        sensors = [_name_id(m, mujoco.mjtObj.mjOBJ_SENSOR, contact_sensor_name(a, b)) for a, b in q.contact_pairs]
        self._contact_adr = m.sensor_adr[sensors].astype(np.int64)
        self._free = {}
        for name in q.free_bodies:
            body = _name_id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            joint = m.body_jntadr[body]
            if m.body_jntnum[body] != 1 or int(m.jnt_type[joint]) != int(mujoco.mjtJoint.mjJNT_FREE):
                raise ValueError(f"body '{name}' has no free joint")
            self._free[name] = (int(m.jnt_qposadr[joint]), int(m.jnt_dofadr[joint]))
        self._mocap = {}
        for name in q.kinematic_bodies:
            mocap = m.body_mocapid[_name_id(m, mujoco.mjtObj.mjOBJ_BODY, name)]
            if mocap < 0:
                raise ValueError(f"body '{name}' is not kinematic (mocap)")
            self._mocap[name] = int(mocap)
        self.joint_limits = torch.tensor(m.jnt_range[jnt], dtype=torch.float32)
        self._nominal_kp = m.actuator_gainprm[self._actuator, 0].copy()
        self._nominal_kv = -m.actuator_biasprm[self._actuator, 2].copy()
        self._nominal_damping = m.dof_damping[self._dof_adr].copy()
        self._nominal_mass_inertia: tuple[np.ndarray, np.ndarray] | None = None

    def _site_jacobian(self, site: str, axis: torch.Tensor, anchor: torch.Tensor) -> torch.Tensor:
        """Analytic Jacobian for hinge and slide joints from their (N, J, 3) world-frame axes and anchors."""
        index = self.queries.sites.index(site)
        lever = self.state.site_pos[:, index].unsqueeze(1) - anchor
        hinge = self._is_hinge.unsqueeze(-1)
        linear = torch.where(hinge, torch.cross(axis, lever, dim=-1), axis)
        angular = torch.where(hinge, axis, torch.zeros_like(axis))
        mask = self._moves_site[index].unsqueeze(-1).float()
        return torch.cat((linear * mask, angular * mask), dim=-1).transpose(1, 2)

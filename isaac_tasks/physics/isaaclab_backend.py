"""Isaac Lab backend: the scene under Isaac Lab 3.0 on Newton's MuJoCo Warp solver, without Isaac Sim (kit-less).

It runs in a Python 3.12 venv with the `isaaclab` extra (docs/isaaclab.md). The scene's MJCF is split in two:

- the articulation and the static world (robot, table): the first variant without its free and kinematic bodies,
  converted MJCF -> USD by mujoco-usd-converter once and cached by content (`usd_cache_dir`);
- each free or kinematic body (the object, the cube, the platform): an Isaac Lab rigid object spawned from its one
  MuJoCo geom as an Isaac Lab primitive (an ellipsoid as a convex mesh), one prototype per variant; the cloner gives
  environment i the prototype variant_of_env[i].

Joints are mapped by name (Isaac Lab orders them as the kinematic tree), quaternions converted (Isaac Lab stores
x, y, z, w), positions made env-local (each environment's origin subtracted). Sites and joint axes come from link
poses and the MJCF's local frames, so the site Jacobian is the analytic one of the other backends. Servo gains,
effort limits and gravity compensation are set from the compiled MuJoCo model, not taken from the conversion
(docs/decisions.md: what the conversion loses).
"""

from __future__ import annotations

import copy
import hashlib
import math
import os
import re
from pathlib import Path

import mujoco
import numpy as np
import torch

from isaac_tasks.math import quat_apply, quat_mul
from isaac_tasks.physics.interface import BackendInfo, PhysicsBackend, PhysicsState, SceneQueries
from isaac_tasks.physics.scene_index import SceneIndex, _name_id, compile_variants


import isaaclab.sim as sim_utils
from isaaclab.actuators import ImplicitActuatorCfg
from isaaclab.assets import ArticulationCfg, RigidObjectCfg
from isaaclab.cloner import CloneCfg
from isaaclab.physics import PhysicsEvent
from isaaclab.scene import InteractiveScene, InteractiveSceneCfg
from isaaclab.sensors import ContactSensorCfg
from isaaclab.sim import SimulationCfg, SimulationContext
from isaaclab_newton.physics import MJWarpSolverCfg, NewtonCfg

_ROBOT, _SPACING = "robot", 2.0


def usd_cache_dir() -> Path:
    """Where converted scenes are kept between runs (DEXHAND_USD_CACHE, else ~/.cache/dexhand-rl/usd)."""
    return Path(os.environ.get("DEXHAND_USD_CACHE", Path.home() / ".cache" / "dexhand-rl" / "usd"))


def _articulation_usd(spec: mujoco.MjSpec) -> str:
    """The USD file of `spec` (converted once, cached under a hash of its MJCF)."""
    xml = spec.to_xml()
    folder = usd_cache_dir() / hashlib.sha256(xml.encode()).hexdigest()[:16]
    found = sorted(folder.glob("*.usda")) if folder.is_dir() else []
    if not found:
        from mujoco_usd_converter import Converter

        staging = folder.with_name(folder.name + f".tmp{os.getpid()}")
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "scene.xml").write_text(xml)
        try:
            Converter().convert(str(staging / "scene.xml"), str(staging / "usd"))
            (converted,) = (staging / "usd").glob("*.usda")
            _fix_conversion(str(converted))
        except Exception as error:
            raise ValueError(f"MJCF to USD conversion of model '{spec.modelname}' failed: {error}") from error
        if not folder.exists():  # another process may have finished first
            os.replace(staging / "usd", folder)
        found = sorted(folder.glob("*.usda"))
    return str(found[0])


def _fix_conversion(usd_file: str) -> None:
    """What the conversion leaves for Newton to misread: gravity compensation is written as `mjc:body:gravcomp`,
    read as `mjc:gravcomp`; MuJoCo actuators would drive the joints beside Isaac Lab's servos (set from the model)."""
    from pxr import Sdf, Usd

    stage = Usd.Stage.Open(usd_file)
    for prim in list(stage.Traverse()):
        if prim.GetTypeName() == "MjcActuator":
            prim.SetActive(False)
            continue
        written = prim.GetAttribute("mjc:body:gravcomp")
        if written and written.HasAuthoredValue():
            prim.CreateAttribute("mjc:gravcomp", Sdf.ValueTypeNames.Float).Set(float(written.Get()))
    stage.GetRootLayer().Save()


def _without(spec: mujoco.MjSpec, bodies: tuple[str, ...]) -> mujoco.MjSpec:
    spec = spec.copy()
    for name in bodies:
        spec.delete(spec.body(name))
    return spec


_TINY = 1e-3  # m: the size of a body's shapes that other variants use, kept inside the one in use
_SHAPE_PRIMS = {  # MuJoCo primitive -> USD prim type; USD has no ellipsoid: a sphere made one at model build
    int(mujoco.mjtGeom.mjGEOM_BOX): "Cube",
    int(mujoco.mjtGeom.mjGEOM_CYLINDER): "Cylinder",
    int(mujoco.mjtGeom.mjGEOM_CAPSULE): "Capsule",
    int(mujoco.mjtGeom.mjGEOM_SPHERE): "Sphere",
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID): "Sphere",
}


def _body_geom(model: mujoco.MjModel, body: str) -> int:
    body_id = _name_id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    geoms = np.flatnonzero(model.geom_bodyid == body_id)
    if len(geoms) != 1:
        raise ValueError(
            f"the isaaclab backend spawns free and kinematic bodies of one geom; '{body}' has {len(geoms)}"
        )
    kind = int(model.geom_type[geoms[0]])
    if kind not in _SHAPE_PRIMS:
        raise ValueError(f"the isaaclab backend cannot spawn geom type {mujoco.mjtGeom(kind).name} of body '{body}'")
    return int(geoms[0])


def _shape_kinds(models: list[mujoco.MjModel], body: str) -> list[int]:
    """The geom types of `body` over the variants, in first-seen order."""
    return list(dict.fromkeys(int(m.geom_type[_body_geom(m, body)]) for m in models))


def _body_usd(model: mujoco.MjModel, body: str, kinds: list[int], kinematic: bool) -> str:
    """A USD file of `body`: a rigid body with MuJoCo's mass, inertia and friction, and one collision shape per
    geom type in `kinds` (Newton's MuJoCo solver needs the same shape types in every world), its own at its size
    and the others tiny at its centre. Written once, cached by content."""
    from pxr import Gf, Sdf, Usd, UsdGeom, UsdPhysics, UsdShade

    g = _body_geom(model, body)
    body_id = int(model.geom_bodyid[g])
    own, size = int(model.geom_type[g]), [float(x) for x in model.geom_size[g]]
    key = repr(
        (
            body,
            kinds,
            own,
            size,
            kinematic,
            model.body_mass[body_id],
            model.body_inertia[body_id].tolist(),
            model.body_ipos[body_id].tolist(),
            model.body_iquat[body_id].tolist(),
            model.geom_friction[g].tolist(),
            int(model.geom_condim[g]),
            model.geom_pos[g].tolist(),
            model.geom_quat[g].tolist(),
        )
    )
    path = usd_cache_dir() / "bodies" / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.usda"
    if path.exists():
        return str(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.stem + f".tmp{os.getpid()}.usda")
    stage = Usd.Stage.CreateNew(str(staging))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z)
    UsdGeom.SetStageMetersPerUnit(stage, 1.0)
    root = UsdGeom.Xform.Define(stage, "/body").GetPrim()
    stage.SetDefaultPrim(root)
    UsdPhysics.RigidBodyAPI.Apply(root).CreateKinematicEnabledAttr(kinematic)
    mass = UsdPhysics.MassAPI.Apply(root)
    mass.CreateMassAttr(float(model.body_mass[body_id]))
    mass.CreateDiagonalInertiaAttr(Gf.Vec3f(*model.body_inertia[body_id].tolist()))
    mass.CreateCenterOfMassAttr(Gf.Vec3f(*model.body_ipos[body_id].tolist()))
    mass.CreatePrincipalAxesAttr(Gf.Quatf(*model.body_iquat[body_id].tolist()))
    material = UsdShade.Material.Define(stage, "/body/material")
    friction = UsdPhysics.MaterialAPI.Apply(material.GetPrim())
    friction.CreateStaticFrictionAttr(float(model.geom_friction[g, 0]))
    friction.CreateDynamicFrictionAttr(float(model.geom_friction[g, 0]))
    friction.CreateRestitutionAttr(0.0)
    material.GetPrim().CreateAttribute("newton:torsionalFriction", Sdf.ValueTypeNames.Float).Set(
        float(model.geom_friction[g, 1])
    )
    material.GetPrim().CreateAttribute("newton:rollingFriction", Sdf.ValueTypeNames.Float).Set(
        float(model.geom_friction[g, 2])
    )
    t = mujoco.mjtGeom
    for kind in kinds:
        r, h = (size[0], size[1]) if kind == own else (_TINY, _TINY)
        prim = stage.DefinePrim(f"/body/{t(kind).name.removeprefix('mjGEOM_').lower()}", _SHAPE_PRIMS[kind])
        xform = UsdGeom.Xformable(prim)
        xform.AddTranslateOp().Set(Gf.Vec3d(*model.geom_pos[g].tolist()))
        xform.AddOrientOp().Set(Gf.Quatf(*model.geom_quat[g].tolist()))
        if kind == int(t.mjGEOM_BOX):
            prim.GetAttribute("size").Set(2.0)
            xform.AddScaleOp().Set(Gf.Vec3f(*(size if kind == own else [_TINY] * 3)))
        elif kind in (int(t.mjGEOM_CYLINDER), int(t.mjGEOM_CAPSULE)):
            prim.GetAttribute("radius").Set(r)
            prim.GetAttribute("height").Set(2.0 * h)
            prim.GetAttribute("axis").Set("Z")
        else:  # a sphere, or the stand-in of an ellipsoid (its radii come in at model build)
            prim.GetAttribute("radius").Set(r)
        UsdPhysics.CollisionAPI.Apply(prim)
        UsdShade.MaterialBindingAPI.Apply(prim).Bind(material, UsdShade.Tokens.weakerThanDescendants, "physics")
        prim.CreateAttribute("mjc:condim", Sdf.ValueTypeNames.Int).Set(int(model.geom_condim[g]))
        prim.CreateAttribute("mjc:solref", Sdf.ValueTypeNames.DoubleArray).Set(model.geom_solref[g].tolist())
        prim.CreateAttribute("newton:contactGap", Sdf.ValueTypeNames.Float).Set(float(model.geom_gap[g]))
    stage.GetRootLayer().Save()
    os.replace(staging, path)
    return str(path)


def _xyzw(wxyz: torch.Tensor) -> torch.Tensor:
    return wxyz[..., [1, 2, 3, 0]]


def _wxyz(xyzw: torch.Tensor) -> torch.Tensor:
    return xyzw[..., [3, 0, 1, 2]]


class IsaacLabBackend(SceneIndex, PhysicsBackend):
    def __init__(self, variants: list[mujoco.MjSpec], variant_of_env: np.ndarray, queries: SceneQueries, device="cpu"):
        variant_of_env = np.asarray(variant_of_env)
        self.num_envs = len(variant_of_env)
        if self.num_envs < 1:
            raise ValueError("num_envs must be at least 1")
        self.device = torch.device(device)
        self.queries = queries
        models = compile_variants(variants, queries.contact_pairs)
        self.model = models[0]
        self._variant_models, self._variant_of_env = models, variant_of_env
        self._index(queries)
        separate = (*queries.free_bodies, *queries.kinematic_bodies)
        fixed_part = [_without(spec, separate).to_xml() for spec in variants]
        if any(xml != fixed_part[0] for xml in fixed_part[1:]):
            raise ValueError("the isaaclab backend needs variants that differ only in their free and kinematic bodies")
        if SimulationContext.instance() is not None:
            raise ValueError("an Isaac Lab simulation is already open in this process; close() it first")
        m = self.model
        self.sim = SimulationContext(
            SimulationCfg(
                dt=float(m.opt.timestep),
                device=str(self.device),
                gravity=tuple(float(g) for g in m.opt.gravity),
                physics=NewtonCfg(
                    solver_cfg=MJWarpSolverCfg(
                        njmax=400,
                        nconmax=64,
                        iterations=int(m.opt.iterations),
                        ls_iterations=int(m.opt.ls_iterations),
                        integrator=mujoco.mjtIntegrator(m.opt.integrator).name.removeprefix("mjINT_").lower(),
                        cone=mujoco.mjtCone(m.opt.cone).name.removeprefix("mjCONE_").lower(),
                        impratio=float(m.opt.impratio),
                    ),
                    num_substeps=1,
                    use_cuda_graph=self.device.type == "cuda",
                ),
            )
        )
        self._ellipsoids: dict[str, list[tuple[float, float, float]]] = {}  # radii per variant, by body
        self.sim.physics_manager.register_callback(self._make_ellipsoids, PhysicsEvent.MODEL_INIT, name="ellipsoids")
        try:
            self.scene = InteractiveScene(self._scene_cfg(variants, models, separate))
            self.sim.reset()
            self._widen_bounds(models, separate)
            self._bind(separate)
            self.refresh()
        except Exception:
            self.close()
            raise

    # --- construction -------------------------------------------------------------------------
    def _scene_cfg(self, variants, models, separate) -> InteractiveSceneCfg:
        m, q = self.model, self.queries
        variant_of_env = self._variant_of_env
        cfg = InteractiveSceneCfg(
            num_envs=self.num_envs,
            env_spacing=_SPACING,
            clone_cfg=CloneCfg(clone_strategy=lambda weights, count: variant_of_env[:count] % len(weights)),
        )
        servo_joints = [re.escape(m.joint(int(m.actuator_trnid[a, 0])).name) for a in range(m.nu)]
        limits = [
            float(np.abs(m.actuator_forcerange[a]).max()) if m.actuator_forcelimited[a] else math.inf
            for a in range(m.nu)
        ]
        robot_usd = _articulation_usd(_without(variants[0], separate))
        home = {m.joint(j).name: float(np.clip(m.qpos0[m.jnt_qposadr[j]], *m.jnt_range[j])) for j in self._hinges()}
        servos = ImplicitActuatorCfg(  # MuJoCo's position servos: kp, kv and the force range, from the model
            joint_names_expr=servo_joints,
            stiffness={j: float(m.actuator_gainprm[a, 0]) for a, j in enumerate(servo_joints)},
            damping={j: float(-m.actuator_biasprm[a, 2]) for a, j in enumerate(servo_joints)},
            joint_effort_limit=dict(zip(servo_joints, limits)),
        )
        cfg.robot = ArticulationCfg(
            prim_path=f"{{ENV_REGEX_NS}}/{_ROBOT}",
            spawn=sim_utils.UsdFileCfg(usd_path=robot_usd, activate_contact_sensors=bool(q.contact_pairs)),
            init_state=ArticulationCfg.InitialStateCfg(joint_pos=home),
            actuators={"servos": servos} if m.nu else {},
        )
        for name in separate:
            kinds = _shape_kinds(models, name)
            files = [_body_usd(model, name, kinds, name in q.kinematic_bodies) for model in models]
            body = _name_id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            spawn = (
                sim_utils.UsdFileCfg(usd_path=files[0])
                if len(files) == 1
                else sim_utils.MultiUsdFileCfg(usd_path=files)
            )
            pos, quat = m.body_pos[body].tolist(), m.body_quat[body].tolist()
            setattr(
                cfg,
                name,
                RigidObjectCfg(
                    prim_path=f"{{ENV_REGEX_NS}}/{name}",
                    spawn=spawn,
                    init_state=RigidObjectCfg.InitialStateCfg(pos=tuple(pos), rot=(*quat[1:], quat[0])),
                ),
            )
            if int(mujoco.mjtGeom.mjGEOM_ELLIPSOID) in kinds:
                geoms = [(model, _body_geom(model, name)) for model in models]
                ellipsoid = int(mujoco.mjtGeom.mjGEOM_ELLIPSOID)
                self._ellipsoids[name] = [
                    tuple(float(x) for x in model.geom_size[g]) if model.geom_type[g] == ellipsoid else (_TINY,) * 3
                    for model, g in geoms
                ]
        paths = self._body_paths(robot_usd)
        for k, (body_a, body_b) in enumerate(q.contact_pairs):
            setattr(
                cfg,
                f"contact_{k}",
                ContactSensorCfg(
                    prim_path=self._prim(body_a, paths),
                    filter_prim_paths_expr=[self._prim(body_b, paths)],
                ),
            )
        return cfg

    def _make_ellipsoids(self, _event) -> None:
        """Newton reads no ellipsoid from USD: each stand-in sphere becomes its environment's ellipsoid."""
        from isaaclab_newton.physics import NewtonBuilderCfg
        from newton import GeoType
        from newton._src.geometry import compute_shape_radius

        builder = self.sim.get_or_create_backend(NewtonBuilderCfg(physics_cfg=self.sim.cfg.physics))
        for i, label in enumerate(builder.shape_label):
            for name, radii in self._ellipsoids.items():
                found = re.search(rf"env_(\d+)/{name}/ellipsoid$", label)
                if found:
                    scale = radii[self._variant_of_env[int(found.group(1))]]
                    builder.shape_type[i] = GeoType.ELLIPSOID
                    builder.shape_scale[i] = scale
                    builder.shape_collision_radius[i] = compute_shape_radius(GeoType.ELLIPSOID, scale, None)

    def _widen_bounds(self, models: list[mujoco.MjModel], separate: tuple[str, ...]) -> None:
        """MuJoCo Warp culls contact pairs by each geom's bounding sphere and box, which Newton takes from the first
        world for all; every shape of a separate body gets the largest bounding sphere of that body over the variants."""
        import warp as wp

        solver = self.sim.physics_manager._solver
        labels = self.sim.physics_manager.get_model().shape_label
        shape_of_geom = solver.mjc_geom_to_newton_shape.numpy()[0]
        rbound, aabb = wp.to_torch(solver.mjw_model.geom_rbound), wp.to_torch(solver.mjw_model.geom_aabb)
        for name in separate:
            radius = max(float(m.geom_rbound[_body_geom(m, name)]) for m in models)
            for geom, shape in enumerate(shape_of_geom):
                if shape >= 0 and re.search(rf"/{name}/[^/]+$", labels[shape]):
                    rbound[:, geom] = radius
                    aabb[:, geom, 0] = 0.0
                    aabb[:, geom, 1] = radius

    def _robot_body(self, name: str) -> list[int]:
        return self.robot.find_bodies([f"^{re.escape(name)}$"])[0]

    def _hinges(self) -> list[int]:
        m = self.model
        kinds = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
        return [j for j in range(m.njnt) if int(m.jnt_type[j]) in kinds]

    @staticmethod
    def _body_paths(usd_file: str) -> dict[str, str]:
        """Path of each rigid body prim under the spawned articulation, by body name."""
        from pxr import Usd, UsdPhysics

        stage = Usd.Stage.Open(usd_file)
        root = stage.GetDefaultPrim().GetPath()
        return {
            prim.GetName(): str(prim.GetPath().MakeRelativePath(root))
            for prim in stage.Traverse()
            if prim.HasAPI(UsdPhysics.RigidBodyAPI)
        }

    def _prim(self, body: str, paths: dict[str, str]) -> str:
        if body in (*self.queries.free_bodies, *self.queries.kinematic_bodies):
            return f"{{ENV_REGEX_NS}}/{body}"
        if body not in paths:
            raise ValueError(f"scene has no rigid body named '{body}'")
        return f"{{ENV_REGEX_NS}}/{_ROBOT}/{paths[body]}"

    def _bind(self, separate: tuple[str, ...]) -> None:
        """Indices into Isaac Lab's buffers of what the other backends index in MuJoCo's."""
        m, q, dev = self.model, self.queries, self.device
        self.robot = self.scene[_ROBOT]
        self._objects = {name: self.scene[name] for name in separate}
        self._sensors = [self.scene[f"contact_{k}"] for k in range(len(q.contact_pairs))]
        ids, _ = self.robot.find_joints([f"^{re.escape(n)}$" for n in q.joints], preserve_order=True)
        self._joint_ids = torch.tensor(ids, dtype=torch.long, device=dev)
        # every MuJoCo body whose pose is read: declared bodies, bodies of sites and of joints
        body_ids = [*self._body, *self._site_body, *m.jnt_bodyid[self._joint]]
        names = list(dict.fromkeys(m.body(int(b)).name for b in body_ids))
        links = [n for n in names if n not in separate]
        link_ids, _ = self.robot.find_bodies([f"^{re.escape(n)}$" for n in links], preserve_order=True)
        self._link_ids = torch.tensor(link_ids, dtype=torch.long, device=dev)
        self._separate = [n for n in names if n in separate]
        column = {n: i for i, n in enumerate(links + self._separate)}

        def columns(mujoco_ids) -> torch.Tensor:
            return torch.tensor([column[m.body(int(b)).name] for b in mujoco_ids], dtype=torch.long, device=dev)

        self._body_col, self._site_col = columns(self._body), columns(self._site_body)
        self._joint_col = columns(m.jnt_bodyid[self._joint])
        self._wrench_bodies = [  # (asset, its body index) of each declared body
            (self._objects[name], [0]) if name in self._objects else (self.robot, self._robot_body(name))
            for name in q.bodies
        ]

        def local(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.asarray(a), dtype=torch.float32, device=dev)

        self._site_local_pos, self._site_local_quat = local(m.site_pos[self._site]), local(m.site_quat[self._site])
        self._joint_local_pos, self._joint_local_axis = local(m.jnt_pos[self._joint]), local(m.jnt_axis[self._joint])
        self._is_hinge, self._moves_site = self._is_hinge.to(dev), self._moves_site.to(dev)
        self.joint_limits = self.joint_limits.to(dev)
        self._origins = self.scene.env_origins.to(dev)
        self._nominal_kp = local(self._nominal_kp)
        self._nominal_kv = local(self._nominal_kv)
        self._nominal_damping = local(self._nominal_damping)
        # nominal masses and inertias of every asset's bodies, that scale_mass scales
        self._nominal_mass_inertia = {
            name: (asset.data.body_mass.torch.clone(), asset.data.body_inertia.torch.clone())
            for name, asset in ((_ROBOT, self.robot), *self._objects.items())
        }

    def close(self) -> None:
        """End the Isaac Lab simulation (one per process at a time)."""
        if SimulationContext.instance() is not None:
            SimulationContext.instance().clear_instance()

    # --- interface ----------------------------------------------------------------------------
    @property
    def info(self) -> BackendInfo:
        import isaaclab
        import newton

        return BackendInfo(
            name="isaaclab",
            physics_dt=float(self.model.opt.timestep),
            num_threads=1,
            extra={
                "device": str(self.device),
                "isaaclab_version": isaaclab.__version__,
                "newton_version": newton.__version__,
            },
        )

    def step(self, num_substeps: int) -> torch.Tensor:
        for _ in range(num_substeps):
            self.scene.write_data_to_sim()  # every physics step, as DirectRLEnv does: Newton clears applied forces
            self.sim.step(render=False)
            self.scene.update(self.sim.get_physics_dt())
        self.refresh()
        s = self.state
        finite = torch.isfinite(s.joint_pos).all(-1) & torch.isfinite(s.joint_vel).all(-1)
        return ~(finite & torch.isfinite(s.body_pos).flatten(1).all(-1))

    def reset_envs(self, env_ids, joint_pos, joint_vel, root_poses, root_velocities=None) -> None:
        dev = self.device
        ids = env_ids.to(dev)
        joint_pos, joint_vel = joint_pos.to(dev, torch.float32), joint_vel.to(dev, torch.float32)
        self.robot.write_joint_state_to_sim_index(
            position=joint_pos, velocity=joint_vel, joint_ids=self._joint_ids, env_ids=ids
        )
        command = self.robot.actuators.target_command
        command.set_position_index(value=joint_pos, joint_ids=self._joint_ids, env_ids=ids)
        command.set_effort_index(value=torch.zeros_like(joint_pos), joint_ids=self._joint_ids, env_ids=ids)
        for name, (pos, quat) in root_poses.items():
            obj = self._objects[name]
            pose = torch.cat((pos.to(dev) + self._origins[ids], _xyzw(quat.to(dev))), -1).float()
            obj.write_root_pose_to_sim_index(root_pose=pose, env_ids=ids)
            zero = torch.zeros_like(pose[:, :3])
            lin, ang = (root_velocities or {}).get(name, (zero, zero))
            obj.write_root_velocity_to_sim_index(root_velocity=torch.cat((lin, ang), -1).to(dev).float(), env_ids=ids)
        for asset in (self.robot, *self._objects.values()):
            asset.permanent_wrench_composer.reset(env_ids=ids)
        self.sim.forward()
        self.scene.update(0.0)
        self.refresh()

    def set_kinematic_pose(self, body, pos, quat) -> None:
        pose = torch.cat((pos.to(self.device) + self._origins, _xyzw(quat.to(self.device))), -1).float()
        self._objects[body].write_root_pose_to_sim_index(root_pose=pose)

    def set_joint_position_target(self, targets: torch.Tensor) -> None:
        self.robot.actuators.target_command.set_position_index(
            value=targets.to(self.device, torch.float32), joint_ids=self._joint_ids
        )

    def set_joint_effort(self, torques: torch.Tensor) -> None:
        self.robot.actuators.target_command.set_effort_index(
            value=torques.to(self.device, torch.float32), joint_ids=self._joint_ids
        )

    def set_body_wrench(self, forces: torch.Tensor, torques: torch.Tensor) -> None:
        forces, torques = forces.to(self.device, torch.float32), torques.to(self.device, torch.float32)
        for i, (asset, body_ids) in enumerate(self._wrench_bodies):
            asset.permanent_wrench_composer.set_forces_and_torques_index(
                forces=forces[:, i : i + 1], torques=torques[:, i : i + 1], body_ids=body_ids, is_global=True
            )

    def site_jacobian(self, site: str) -> torch.Tensor:
        pos, quat = self._link_pos, self._link_quat
        joint_quat = quat[:, self._joint_col]
        axis = quat_apply(joint_quat, self._joint_local_axis.expand_as(pos[:, self._joint_col]))
        anchor = pos[:, self._joint_col] + quat_apply(joint_quat, self._joint_local_pos.expand_as(axis))
        return self._site_jacobian(site, axis, anchor)

    def ray_cast(self, origins: torch.Tensor, directions: torch.Tensor, body: str | None = None) -> torch.Tensor:
        raise ValueError(
            "the isaaclab backend casts no rays (Newton 1.6 has no scene ray cast that Isaac Lab exposes per "
            "environment): render point clouds on the mujoco or mujoco_warp backend"
        )

    def render_data(self, env_id, model=None, data=None):
        if model is None:
            model = copy.copy(self._variant_models[self._variant_of_env[env_id]])
        if data is None:
            data = mujoco.MjData(model)
        s = self.state
        data.qpos[self._qpos_adr] = s.joint_pos[env_id].cpu().numpy()
        for name, obj in self._objects.items():
            body = _name_id(model, mujoco.mjtObj.mjOBJ_BODY, name)
            pos = (obj.data.root_link_pos_w.torch[env_id] - self._origins[env_id]).cpu().numpy()
            quat = _wxyz(obj.data.root_link_quat_w.torch[env_id]).cpu().numpy()
            if name in self.queries.kinematic_bodies:
                data.mocap_pos[model.body_mocapid[body]], data.mocap_quat[model.body_mocapid[body]] = pos, quat
            else:
                adr = model.jnt_qposadr[model.body_jntadr[body]]
                data.qpos[adr : adr + 3], data.qpos[adr + 3 : adr + 7] = pos, quat
        mujoco.mj_kinematics(model, data)
        mujoco.mj_comPos(model, data)
        mujoco.mj_camlight(model, data)
        return model, data

    # Per-environment physical parameters (domain randomization).
    def set_friction(self, env_ids, body, friction) -> None:
        import warp as wp
        from newton import ModelFlags

        model = self.sim.physics_manager.get_model()
        if body in self._objects:
            asset = self._objects[body]
            shapes = list(range(asset._root_view.get_attribute("shape_material_mu", model).shape[-1]))
        else:
            asset = self.robot
            (index,) = asset.map_body_ids_to_backend(self._robot_body(body))
            shapes = list(asset._root_view.body_shapes[index])
        values = wp.to_torch(asset._root_view.get_attribute("shape_material_mu", model)[:, 0])
        rows = env_ids.to(values.device).unsqueeze(-1)
        values[rows, shapes] = friction.to(values.device, values.dtype).unsqueeze(-1)
        self.sim.physics_manager.add_model_change(ModelFlags.SHAPE_PROPERTIES)

    def scale_mass(self, env_ids, body, scale) -> None:
        dev = self.device
        ids = env_ids.to(dev)
        factor = scale.to(dev, torch.float32)
        name = body if body in self._objects else _ROBOT
        asset, body_ids = (self._objects[body], [0]) if body in self._objects else (self.robot, self._robot_body(body))
        mass, inertia = (nominal[ids][:, body_ids] for nominal in self._nominal_mass_inertia[name])
        asset.set_masses_index(masses=mass * factor[:, None], body_ids=body_ids, env_ids=ids)
        asset.set_inertias_index(inertias=inertia * factor[:, None, None], body_ids=body_ids, env_ids=ids)

    def scale_joint_gains(self, env_ids, stiffness_scale, damping_scale) -> None:
        ids = env_ids.to(self.device)
        stiffness_scale, damping_scale = stiffness_scale.to(self.device), damping_scale.to(self.device)
        self.robot.write_joint_stiffness_to_sim_index(
            stiffness=self._nominal_kp * stiffness_scale, joint_ids=self._joint_ids, env_ids=ids
        )
        self.robot.write_joint_damping_to_sim_index(
            damping=self._nominal_kv * damping_scale, joint_ids=self._joint_ids, env_ids=ids
        )
        self.robot.write_joint_viscous_friction_coefficient_to_sim_index(
            joint_viscous_friction_coeff=self._nominal_damping * damping_scale, joint_ids=self._joint_ids, env_ids=ids
        )

    def set_joint_limits(self, env_ids, limits) -> None:
        self.robot.write_joint_position_limit_to_sim_index(
            limits=limits.to(self.device, torch.float32), joint_ids=self._joint_ids, env_ids=env_ids.to(self.device)
        )

    def set_gravity(self, env_ids, gravity) -> None:
        import warp as wp
        from newton import ModelFlags

        manager = self.sim.physics_manager
        values = wp.to_torch(manager.get_model().gravity)  # a row per environment, then the global one
        values[env_ids.to(values.device)] = gravity.to(values.device, values.dtype)
        manager.add_model_change(ModelFlags.MODEL_PROPERTIES)

    # --- state --------------------------------------------------------------------------------
    def refresh(self) -> None:
        d = self.robot.data
        parts = [
            (
                d.body_link_pos_w.torch[:, self._link_ids],
                d.body_link_quat_w.torch[:, self._link_ids],
                d.body_link_lin_vel_w.torch[:, self._link_ids],
                d.body_link_ang_vel_w.torch[:, self._link_ids],
            )
        ]
        for name in self._separate:
            od = self._objects[name].data
            fields = (od.root_link_pos_w, od.root_link_quat_w, od.root_link_lin_vel_w, od.root_link_ang_vel_w)
            parts.append(tuple(f.torch.unsqueeze(1) for f in fields))
        pos, quat, lin_vel, ang_vel = (torch.cat(x, dim=1) for x in zip(*parts))
        self._link_pos, self._link_quat = pos - self._origins.unsqueeze(1), _wxyz(quat)
        site_quat = self._link_quat[:, self._site_col]
        site_pos = self._link_pos[:, self._site_col] + quat_apply(
            site_quat, self._site_local_pos.expand(len(pos), -1, -1)
        )
        forces = [sensor.data.force_matrix_w.torch.reshape(self.num_envs, -1, 3).sum(1) for sensor in self._sensors]
        force = torch.stack(forces, 1).norm(dim=-1) if forces else torch.zeros(self.num_envs, 0, device=self.device)
        self.state = PhysicsState(
            joint_pos=d.joint_pos.torch[:, self._joint_ids].clone(),
            joint_vel=d.joint_vel.torch[:, self._joint_ids].clone(),
            body_pos=self._link_pos[:, self._body_col],
            body_quat=self._link_quat[:, self._body_col],
            body_lin_vel=lin_vel[:, self._body_col],
            body_ang_vel=ang_vel[:, self._body_col],
            site_pos=site_pos,
            site_quat=quat_mul(site_quat, self._site_local_quat.expand_as(site_quat)),
            contact_force=force,
            in_contact=force > 0,
        )

"""Calibrate the scripted demonstrator's strategy ranges by simulation (a cross-entropy search).

For every strategy and object shape of a grasp family, the palm-pose ranges (`StrategyRanges`) are
narrowed, round after round, around the plans that worked: each round runs one episode in every
environment with plans drawn from the current ranges, scores each episode (1 for a success, else
up to 0.5 for the height the object reached), and sets each range to the mean +- the standard
deviation of the best quarter of its plans, kept inside the search box. A last round measures the
success of each strategy on each shape; its square becomes the weight (the chance the demonstrator picks
it): a teleoperator mostly uses the grasp that works best on an object, sometimes another.
The result is a table of ranges keyed "<strategy>/<shape>", the form `ScriptedGraspCfg.strategies` takes.
"""

from __future__ import annotations

import dataclasses

import torch

from isaac_tasks.grasp.scripted_grasp import (
    FAMILY_STRATEGIES,
    SHAPE_CLASSES,
    STRATEGIES,
    ScriptedGrasp,
    ScriptedGraspCfg,
    StrategyRanges,
)

# the quantities of a plan, in the order of ScriptedGrasp.plan, then the pre-shape
PLAN_KEYS = ("along", "across", "height", "pitch", "yaw", "depth", "aperture")
MIN_WEIGHT = 0.1  # every strategy keeps some chance, so that the demonstrations stay multimodal
# the narrowest half-width a range keeps (m or rad, fraction for the aperture)
MIN_HALF_WIDTH = {
    "along": 0.004,
    "across": 0.004,
    "height": 0.002,
    "pitch": 0.04,
    "yaw": 0.08,
    "depth": 0.004,
    "aperture": 0.03,
}


def search_box(strategy: str) -> StrategyRanges:
    """The widest ranges the search may use for a strategy."""
    if strategy in FAMILY_STRATEGIES["pinch"]:
        return StrategyRanges(
            along=(0.0, 0.08), across=(-0.07, 0.01), height=(0.0, 0.02), pitch=(-0.1, 0.5), yaw=(-0.8, 0.8),
            aperture=(0.0, 0.4), depth=(0.05, 0.11),
        )  # fmt: skip
    return StrategyRanges(
        along=(-0.03, 0.07), across=(-0.04, 0.03), height=(-0.01, 0.03), pitch=(-0.1, 0.6), yaw=(-0.8, 0.8),
        aperture=(0.0, 0.4),
    )  # fmt: skip


@torch.inference_mode()
def run_round(env, script: ScriptedGrasp) -> tuple[torch.Tensor, torch.Tensor]:
    """One episode per environment: (plans (N, 7) in PLAN_KEYS order, scores (N,))."""
    env.reset()
    script.reset(torch.arange(env.num_envs))
    plans = torch.cat((script.plan, script.aperture.unsqueeze(-1)), dim=-1).cpu()
    ended = torch.zeros(env.num_envs, dtype=torch.bool)
    success = torch.zeros(env.num_envs, dtype=torch.bool)
    best_height = torch.zeros(env.num_envs)
    while not ended.all():
        _, _, dones, extras = env.step(script.actions(script.command()))
        height = (env.physics.state.body_pos[:, 0, 2] - env.object_rest_height).cpu()
        best_height = torch.where(ended, best_height, torch.maximum(best_height, height))
        ids = dones.cpu().nonzero().squeeze(-1)
        if len(ids):
            first = ~ended[ids]
            success[ids[first]] = extras["log"]["Metrics/success_rate"].cpu()[first].bool()
            ended[ids] = True
            script.reset(ids.to(env.device))
    scores = torch.where(success, 1.0, 0.5 * (best_height / env.cfg.success_height).clamp(0.0, 1.0))
    return plans, scores


def narrowed(box: StrategyRanges, plans: torch.Tensor, scores: torch.Tensor, elite_fraction: float) -> StrategyRanges:
    """Ranges of mean +- std of the best plans, at least MIN_HALF_WIDTH wide, inside `box` (weight 1)."""
    count = max(2, int(round(elite_fraction * len(scores))))
    elite = plans[scores.argsort(descending=True)[:count]]
    mean, std = elite.mean(0), elite.std(0)
    ranges = {}
    for k, key in enumerate(PLAN_KEYS):
        low, high = getattr(box, key)
        if low == high:
            ranges[key] = (low, high)
            continue
        half = max(float(std[k]), MIN_HALF_WIDTH[key])
        centre = min(max(float(mean[k]), low + half), high - half)
        ranges[key] = (round(max(low, centre - half), 4), round(min(high, centre + half), 4))
    return StrategyRanges(**ranges)


def calibrate(
    env,
    family: str,
    rounds: int,
    seed: int = 0,
    elite_fraction: float = 0.25,
    from_defaults: bool = False,
    shape_classes: list[str] | None = None,
    log=print,
) -> dict:
    """Ranges keyed "<strategy>/<shape class>" for the objects of `family` in `env` (only `shape_classes`
    if given; the others keep the demonstrator's), and the success per round. The search starts from the
    search box, or with `from_defaults` from the demonstrator's current ranges."""
    boxes = {s: search_box(s) for s in FAMILY_STRATEGIES[family]}
    generator = torch.Generator(device=env.device)
    current = ScriptedGrasp(env, ScriptedGraspCfg(), generator)
    in_family = current.shape_class[env.object_is_power == (family == "power")]
    shapes = [SHAPE_CLASSES[k] for k in sorted(set(in_family.tolist()))]
    if shape_classes is not None:
        if not set(shape_classes) <= set(shapes):
            raise ValueError(f"shape classes {shape_classes}: the {family} objects have {shapes}")
        shapes = shape_classes
    ranges = {
        f"{s}/{shape}": current.ranges_for(s, shape) if from_defaults else boxes[s] for s in boxes for shape in shapes
    }
    history = []
    for k in range(rounds + 1):  # the last round only measures the final ranges
        cfg = ScriptedGraspCfg(max_tries=1, strategies={**ScriptedGraspCfg().strategies, **ranges})
        generator.manual_seed(seed * 1_000 + k)
        env.generator.manual_seed(seed * 1_000 + k)
        script = ScriptedGrasp(env, cfg, generator)
        plans, scores = run_round(env, script)
        strategy = script.strategy.cpu()
        shape = script.shape_class.cpu()
        history.append(float((scores == 1.0).float().mean()))
        log(f"round {k}: success {history[-1]:.3f}")
        for key in list(ranges):
            name, shape_name = key.split("/")
            mine = (strategy == STRATEGIES.index(name)) & (shape == SHAPE_CLASSES.index(shape_name))
            if k == rounds:  # each strategy is then picked in proportion to its squared success on the shape
                success = float((scores[mine] == 1.0).float().mean()) if mine.any() else 0.0
                ranges[key] = dataclasses.replace(ranges[key], weight=round(max(success**2, MIN_WEIGHT), 3))
            elif mine.sum() >= 4:
                ranges[key] = narrowed(boxes[name], plans[mine], scores[mine], elite_fraction)
    return {"ranges": {key: dataclasses.asdict(r) for key, r in ranges.items()}, "success_per_round": history}

"""`KEY=VALUE` settings of nested configs, checked against the config they change: the project's `--env` and
`--agent` flags, and Isaac Lab's `env.task_overrides`."""

from __future__ import annotations

import dataclasses
import json
import math


def dataclass_override(config, override: str, flag: str) -> tuple[str, object]:
    """(`a.b`, value) of `a.b=value`, checked against a dataclass config as `override_config` checks a dict."""
    tree = dataclasses.asdict(config)
    override_config(tree, override, flag)
    key = override.partition("=")[0]
    value = tree
    for part in key.split("."):
        value = value[part]
    return key, value


def override_config(config: dict, override: str, flag: str) -> None:
    """Set `a.b.c=value` in a nested config dict; the key must exist and the value keep its type (JSON, Python's
    True/False for a switch, or text for a text setting)."""
    key, sep, text = override.partition("=")
    if not sep or not key:
        raise ValueError(f"{flag} {override}: needs KEY=VALUE, e.g. algorithm.learning_rate=1e-4")
    *parents, name = key.split(".")
    node = config
    for part in parents:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict) or name not in node:
        raise ValueError(f"{flag} {override}: no setting '{key}' in the config")
    old = node[name]
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = {"True": True, "False": False}.get(text, text) if isinstance(old, bool) else text
    if isinstance(old, bool) or old is None:
        ok = isinstance(value, type(old)) or old is None
    elif isinstance(old, (int, float)):
        ok = (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (isinstance(old, float) or isinstance(value, int))
        )
    else:
        ok = isinstance(value, type(old))
    if not ok:
        raise ValueError(f"{flag} {override}: '{key}' is {type(old).__name__} ({old!r}), got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{flag} {override}: '{key}' must be finite")
    node[name] = float(value) if isinstance(old, float) else value

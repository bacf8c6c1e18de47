"""The config of a rebased image: the new run image's layers, history and env under the app's own.

Pure functions on parsed configs; reading and writing images is `rebase`. What belongs to the old
run image is known from the `io.buildpacks.lifecycle.metadata` label, as pack's rebase knows it:
`runImage.topLayer` is the old base's last diff_id, so the first N diff_ids are the base's and
every later one (dependency, runtime and app layers) is kept byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from boxwise.errors import UserError
from boxwise.image.export import canonical_json

LABEL = "io.buildpacks.lifecycle.metadata"


@dataclass(frozen=True)
class BuiltOn:
    """What the image's label says about the base it was built on."""

    base_layers: int  # how many of the image's first diff_ids are the old base's
    reference: str  # the old base's name as the build gave it
    python: str | None  # the Python a dependency layer was built for (its key's `python`), if any


def _labels(config: dict[str, Any]) -> dict[str, Any]:
    labels = (config.get("config") or {}).get("Labels") or {}
    return labels if isinstance(labels, dict) else {}


def _metadata(config: dict[str, Any], label: str) -> dict[str, Any]:
    text = _labels(config).get(LABEL)
    if not isinstance(text, str):
        raise UserError(
            f"{label}: no {LABEL} label, so its base layers are unknown; rebase only images built by "
            "boxwise build or pack"
        )
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise UserError(f"{label}: its {LABEL} label is not a JSON object; build the image again")
    return data


def diff_ids_of(config: dict[str, Any]) -> list[str]:
    ids = (config.get("rootfs") or {}).get("diff_ids") or []
    return [str(item) for item in ids] if isinstance(ids, list) else []


def built_on(config: dict[str, Any], label: str) -> BuiltOn:
    data = _metadata(config, label)
    run_image = value if isinstance(value := data.get("runImage"), dict) else {}
    top = str(run_image.get("topLayer") or "")
    ids = diff_ids_of(config)
    if not top or top not in ids:
        raise UserError(
            f"{label}: its label's runImage.topLayer is not one of its layers, so its base layers are "
            "unknown; build the image again"
        )
    return BuiltOn(ids.index(top) + 1, str(run_image.get("reference") or ""), _dependency_python(data))


def _dependency_python(data: dict[str, Any]) -> str | None:
    """The `python` a dependency layer's key recorded (pylayer.dependency_inputs), the first found."""
    for bp in data.get("buildpacks") or []:
        layers = bp.get("layers") if isinstance(bp, dict) else None
        for layer in (layers or {}).values() if isinstance(layers, dict) else ():
            inputs = ((layer.get("data") or {}) if isinstance(layer, dict) else {}).get("inputs")
            python = inputs.get("python") if isinstance(inputs, dict) else None
            if isinstance(python, str):
                return python[:40]
    return None


def abi(version: str) -> str:
    """major.minor: what compiled extensions and the venv's lib/python3.X depend on."""
    return ".".join(version.split(".")[:2])


def check_python(label: str, built_for: str | None, new: tuple[str, str] | None, new_ref: str) -> None:
    """Refuse a base whose Python ABI differs from the one the dependency layer was built for."""
    if built_for is None:
        return  # no dependency layer: nothing compiled against the base's Python
    if new is None:
        raise UserError(
            f"--run-image {new_ref}: its Python version cannot be told (no PYTHON_VERSION, no "
            f"python3.X standard library), and {label}'s dependencies were built for Python "
            f"{built_for}; rebuild instead of rebasing"
        )
    version, how = new
    if abi(version) != abi(built_for):
        raise UserError(
            f"--run-image {new_ref}: its Python is {abi(version)} ({how}) but {label}'s dependency "
            f"layer was built for Python {built_for}; a rebase cannot change the Python ABI, rebuild "
            "with boxwise build --base instead"
        )


def _base_history_count(history: list[Any], base_layers: int) -> int:
    """How many history entries are the old base's: up to its last layer, then its empty ones."""
    seen = 0
    for number, item in enumerate(history):
        if seen == base_layers and not (isinstance(item, dict) and item.get("empty_layer")):
            return number
        if not (isinstance(item, dict) and item.get("empty_layer")):
            seen += 1
    return len(history)


def merged_env(image_env: list[str], old_base_env: list[str] | None, new_base_env: list[str]) -> list[str]:
    """The new base's env with the image's own additions on top.

    With the old base's env known, a value the image inherited (the same, or with the old value
    inside it, as PATH with a layer's bin prepended) takes the new base's value; without it every
    image value is kept as it is (it holds the old base's values)."""
    new = dict(item.partition("=")[::2] for item in new_base_env)
    old = dict(item.partition("=")[::2] for item in old_base_env) if old_base_env is not None else {}
    env = dict(new)
    for name, value in (item.partition("=")[::2] for item in image_env):
        was = old.get(name)
        if was is not None and value == was:
            if name not in new:
                env.pop(name, None)  # the old base's variable, which the new base dropped
            continue
        if was and name in new and was in value:
            value = value.replace(was, new[name], 1)
        env[name] = value
    return [f"{name}={value}" for name, value in env.items()]


def rebased_config(
    config: dict[str, Any],
    on: BuiltOn,
    old_base: dict[str, Any] | None,
    new_base: dict[str, Any],
    new_ref: str,
) -> bytes:
    """The image's config with the old base's layers, history and env replaced by the new base's."""
    new_ids = diff_ids_of(new_base)
    kept_ids = diff_ids_of(config)[on.base_layers :]
    history = [h for h in config.get("history") or [] if isinstance(h, dict)]
    kept_history = history[_base_history_count(history, on.base_layers) :]
    cfg = dict(config.get("config") or {})
    new_cfg = new_base.get("config") or {}
    old_env = list((old_base.get("config") or {}).get("Env") or []) if old_base is not None else None
    cfg["Env"] = merged_env(list(cfg.get("Env") or []), old_env, list(new_cfg.get("Env") or []))
    labels = dict(_labels(config))
    old_labels = _labels(old_base) if old_base is not None else {}
    for key, value in (new_cfg.get("Labels") or {}).items():
        if key not in labels or (key in old_labels and labels[key] == old_labels[key]):
            labels[key] = value  # the new base's label, unless the build set its own
    data = _metadata(config, "image")
    data["runImage"] = {"image": new_ref, "reference": new_ref, "topLayer": new_ids[-1] if new_ids else ""}
    labels[LABEL] = json.dumps(data, sort_keys=True)
    cfg["Labels"] = labels
    result = dict(config)
    result.update(
        config=cfg,
        rootfs={"type": "layers", "diff_ids": [*new_ids, *kept_ids]},
        history=[*(new_base.get("history") or []), *kept_history],
    )
    for key in ("architecture", "os", "variant"):
        if new_base.get(key):
            result[key] = new_base[key]
    return canonical_json(result)

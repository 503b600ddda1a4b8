"""Model weights on disk: one safetensors file (self-describing) plus a JSON model card beside it.

The safetensors metadata holds the model config (preset, input size) and the card, so the weights file alone
is enough to rebuild the network. Loading never unpickles anything, and a truncated, mismatched or foreign file
raises WeightsError without ever returning a half-loaded model.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save as st_save

from .atomic import write_bytes_atomic, write_text_atomic
from .model import ModelConfig, SiameseNet, model_fingerprint
from .paths import SHIPPED_WEIGHTS

FORMAT = "glyphs-siamese"
FORMAT_VERSION = "1"


class WeightsError(ValueError):
    """A weights file that cannot be used; the message says which file and why."""


@dataclass
class LoadedModel:
    """A network ready for inference (eval mode) with its card, fingerprint and source path."""

    model: SiameseNet
    card: dict = field(default_factory=dict)
    fingerprint: str = ""
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.card.get("name") or (self.path.stem if self.path else self.model.config.preset)


def card_path(weights: str | os.PathLike) -> Path:
    """Return the model card path that goes with a weights file (same stem, .json)."""
    return Path(weights).with_suffix(".json")


def save_weights(model: SiameseNet, path: str | os.PathLike, card: dict | None = None, half: bool = False) -> Path:
    """Write `model` to `path` (safetensors, atomically) and its card beside it; return the weights path."""
    path = Path(path)
    card = dict(card or {})
    card.setdefault("preset", model.config.preset)
    card["model"] = model.config.to_dict()
    card["dtype"] = "float16" if half else "float32"
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        tensors[k] = v.half() if half and v.is_floating_point() else v
    metadata = {"format": FORMAT, "format_version": FORMAT_VERSION,
                "model_config": json.dumps(model.config.to_dict()), "card": json.dumps(card)}
    write_bytes_atomic(path, st_save(tensors, metadata=metadata))
    write_text_atomic(card_path(path), json.dumps(card, indent=2, sort_keys=True) + "\n")
    return path


def read_metadata(path: str | os.PathLike) -> tuple[ModelConfig, dict]:
    """Return (model config, card) from a weights file's header, or raise WeightsError."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"Weights file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise WeightsError(f"{path} is not a readable safetensors file ({exc}); it may be truncated or damaged.") from exc
    if meta.get("format") != FORMAT:
        raise WeightsError(f"{path} is not a Glyphs model (no '{FORMAT}' metadata); it was made by another program.")
    try:
        config = ModelConfig.from_dict(json.loads(meta["model_config"]))
        card = json.loads(meta.get("card", "{}"))
    except (KeyError, TypeError, ValueError) as exc:
        raise WeightsError(f"{path} has a damaged model description: {exc}") from exc
    return config, card


def load_weights(path: str | os.PathLike | None = None, device: str | torch.device = "cpu") -> LoadedModel:
    """Return the model stored at `path` (default: the shipped model) in eval mode on `device`.

    The card beside the file, when present and valid, is preferred over the copy inside the weights.
    """
    path = Path(path) if path else SHIPPED_WEIGHTS
    config, card = read_metadata(path)
    try:
        model = SiameseNet(config)
    except Exception as exc:
        raise WeightsError(f"{path} describes a network this version cannot build: {exc}") from exc
    try:
        state = {}
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():
                state[key] = f.get_tensor(key)
        reference = model.state_dict()
        state = {k: v.to(reference[k].dtype) if k in reference else v for k, v in state.items()}
        model.load_state_dict(state, strict=True)
    except Exception as exc:
        raise WeightsError(f"{path} does not match its {config.preset} network: {exc}") from exc
    side = card_path(path)
    if side.is_file():
        try:
            card = {**card, **json.loads(side.read_text(encoding="utf-8"))}
        except (OSError, ValueError):
            pass  # the card inside the weights file is authoritative enough
    model.eval().to(device)
    return LoadedModel(model=model, card=card, fingerprint=model_fingerprint(model), path=path)

"""The training settings a person chooses, in one table: the command line's options (`python -m engine train`)
and the Train tab's form both read it; checkpoints and model cards round-trip the whole TrainConfig by itself
(`TrainConfig.from_dict`, generic over nested dataclasses).

A new TrainConfig field a person should set takes one row here (its dotted path in TrainConfig, its option, help
and type) and, to show it in the app, one widget in the Train tab's form (`TrainTab._form_widgets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..augment import StyleConfig
from ..records import get_path, replace_path
from .config import TrainConfig, preset_defaults


@dataclass(frozen=True)
class ConfigField:
    """One setting: `path` in TrainConfig ("lr", "batch.alphabets"), its command line `flag`, `help` and `kind`
    (int, float, str or bool: a bool gets --flag/--no-flag). `scale`: the option and the form show the value
    divided by it (minutes for a time in seconds)."""

    path: str
    flag: str
    help: str
    kind: type = int
    scale: float = 1.0

    @property
    def dest(self) -> str:
        """Return the argparse attribute name of the option."""
        return self.flag.lstrip("-").replace("-", "_")

    def value(self, config: TrainConfig) -> Any:
        """Return the setting of `config` as the command line and the form show it."""
        value = get_path(config, self.path)
        return value / self.scale if value is not None and self.scale != 1.0 else value

    def apply(self, config: TrainConfig, value: Any) -> TrainConfig:
        """Return a copy of `config` with the setting `value` (as shown) applied."""
        if value is not None and self.scale != 1.0:
            value = value * self.scale
        return replace_path(config, self.path, value)


@dataclass(frozen=True)
class SwitchField(ConfigField):
    """An optional part of the config (None: off) shown as on/off; on keeps the config's settings for it, else
    takes the preset's, else (a preset without it) `part`'s defaults."""

    kind: type = bool
    part: type | None = None

    def value(self, config: TrainConfig) -> bool:
        """Return True if the part is on in `config`."""
        return get_path(config, self.path) is not None

    def apply(self, config: TrainConfig, value: Any) -> TrainConfig:
        """Return a copy of `config` with the part turned on (its own or the preset's settings) or off."""
        if not value:
            return replace_path(config, self.path, None)
        if get_path(config, self.path) is not None:
            return config
        preset = get_path(preset_defaults(config.preset), self.path)
        return replace_path(config, self.path, preset if preset is not None or self.part is None else self.part())


TRAIN_FIELDS: tuple[ConfigField, ...] = (
    ConfigField("steps", "--steps", "optimisation steps (default: the preset's)"),
    ConfigField("time_budget_s", "--minutes", "time budget in minutes (stops at whichever comes first)", float,
                scale=60.0),
    ConfigField("lr", "--lr", "peak learning rate (AdamW, cosine schedule)", float),
    ConfigField("weight_decay", "--weight-decay", "AdamW weight decay", float),
    ConfigField("warmup_steps", "--warmup-steps", "steps of linear learning-rate warm-up"),
    ConfigField("batch.alphabets", "--alphabets", "alphabets per batch"),
    ConfigField("batch.characters", "--characters", "characters per alphabet in a batch"),
    ConfigField("batch.drawers", "--drawers", "drawers (images) per character in a batch"),
    ConfigField("batch.class_rotations", "--class-rotations",
                "count each character turned by 90/180/270 degrees as a new character", bool),
    SwitchField("augment", "--augment", "the affine distortions (--no-augment turns them off)"),
    SwitchField("style", "--style", "stroke-width and elastic distortions (other pens, scans, hands)",
                part=StyleConfig),
    ConfigField("init_weights", "--init-weights", "start from this weights file (fine-tune): its network and "
                "input size; a head of another kind is first fitted to its encoder", str),
    ConfigField("rank_weight", "--rank-weight", "weight of the batch ranking loss term (0: pair loss only)", float),
    ConfigField("split.val_alphabets", "--val-alphabets", "background alphabets held out for validation"),
    ConfigField("val_every", "--val-every", "validate every N steps (0: only at the end)"),
    ConfigField("val_tasks", "--val-tasks", "20-way validation tasks per validation"),
    ConfigField("checkpoint_every", "--checkpoint-every", "write a checkpoint every N steps (0: only at the end)"),
    ConfigField("seed", "--seed", "random seed (batches, distortions, initial weights)"),
    ConfigField("amp", "--amp", "bf16 autocast on CUDA (--no-amp turns it off)", bool),
)


def config_field(path: str) -> ConfigField:
    """Return the row of TRAIN_FIELDS for `path` (KeyError if there is none)."""
    for field in TRAIN_FIELDS:
        if field.path == path:
            return field
    raise KeyError(path)

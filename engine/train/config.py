"""Training configuration: one dataclass, saved in checkpoints and model cards."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from ..augment import AffineConfig, StyleConfig
from ..data.splits import SplitConfig
from ..pairs import BatchConfig
from ..records import from_data


@dataclass
class TrainConfig:
    """Everything that defines a training run. `steps` or `time_budget_s` (or both) bound its length: steps None
    means the time budget alone.

    A new field needs its default here and, if a person sets it, one row in fields.TRAIN_FIELDS (the command line
    and the Train tab); `to_dict` / `from_dict` carry it by themselves."""

    preset: str = "compact"
    steps: int | None = 6000
    time_budget_s: float | None = None
    lr: float = 1e-3
    min_lr_fraction: float = 0.02
    weight_decay: float = 1e-4
    warmup_steps: int = 200
    batch: BatchConfig = field(default_factory=BatchConfig)
    augment: AffineConfig | None = field(default_factory=AffineConfig)
    style: StyleConfig | None = None  # stroke-width and elastic distortions on top of the affine ones
    init_weights: str | None = None  # start from this weights file (its network; a head of another kind is refit)
    rank_weight: float = 0.0  # weight of the batch ranking term added to the balanced pair loss
    split: SplitConfig = field(default_factory=SplitConfig)
    val_every: int = 500
    val_tasks: int = 200
    val_way: int = 20
    checkpoint_every: int = 500
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def to_dict(self) -> dict:
        """Return the config as JSON-ready data."""
        d = asdict(self)
        d["split"]["val_names"] = list(self.split.val_names)
        return d

    @staticmethod
    def from_dict(data: dict) -> "TrainConfig":
        """Return a config rebuilt from `to_dict` output (unknown keys are ignored, missing ones take defaults)."""
        config = from_data(TrainConfig, data)
        if config.time_budget_s and config.steps is not None and config.steps >= 10**9:
            config.steps = None  # saved before steps could be None: 10**9 stood for "the time budget alone"
        return config


def preset_defaults(preset: str) -> TrainConfig:
    """Return the recommended training config for a preset (the defaults behind the shipped models)."""
    if preset == "koch2015":
        # The paper's net is large and unnormalised: a small Adam step, as common reimplementations use.
        return TrainConfig(preset=preset, lr=1e-4, weight_decay=0.0, steps=20000,
                           batch=BatchConfig(alphabets=4, characters=8, drawers=4))
    if preset == "tiny":
        return TrainConfig(preset=preset, lr=2e-3, steps=6000, val_every=500, val_tasks=100,
                           batch=BatchConfig(alphabets=2, characters=16, drawers=4))
    # The shipped model's teacher (resources/models/glyphs-compact-v1.json): picked on validation accuracy, see
    # benchmarks/training_runs.md for the runs it was chosen from.
    return TrainConfig(preset=preset, steps=3150, val_every=250, rank_weight=1.0,
                       batch=BatchConfig(alphabets=8, characters=16, drawers=4, class_rotations=True))


def with_overrides(config: TrainConfig, **overrides) -> TrainConfig:
    """Return a copy of `config` with the given fields replaced (None values are ignored)."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})

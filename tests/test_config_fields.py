"""One table of training settings (engine/train/fields.py) serves the command line and the Train tab; checkpoints
round-trip the whole TrainConfig."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from engine.augment import AffineConfig
from engine.cli import build_parser
from engine.cli.train import config_from_args
from engine.records import get_path
from engine.train import TrainConfig, preset_defaults
from engine.train.fields import TRAIN_FIELDS, SwitchField

# A value for each kind of setting that no preset uses by default.
SAMPLE = {int: 7, float: 0.125, bool: False, str: "x"}


def _unusual() -> TrainConfig:
    """A config differing from the defaults at every level: nested dataclasses, tuples, None."""
    base = TrainConfig()
    return replace(base, preset="tiny", steps=None, time_budget_s=90.0, lr=0.5, rank_weight=0.25,
                   batch=replace(base.batch, alphabets=3, class_rotations=True),
                   augment=AffineConfig(rotation_deg=3.0, scale=(0.5, 1.5)),
                   split=replace(base.split, val_alphabets=2, val_names=("Greek", "Bengali")), amp=False)


def test_a_config_survives_the_checkpoint_round_trip():
    config = _unusual()
    again = TrainConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert isinstance(again.augment.scale, tuple) and isinstance(again.split.val_names, tuple)
    off = replace(config, augment=None, steps=500)
    assert TrainConfig.from_dict(json.loads(json.dumps(off.to_dict()))) == off


def test_old_and_newer_saved_configs_still_load():
    data = TrainConfig().to_dict()
    del data["rank_weight"], data["augment"]["p"]  # saved before these fields existed: their defaults
    data["a_field_from_a_newer_version"] = 1
    assert TrainConfig.from_dict(data) == TrainConfig()
    legacy = {**TrainConfig().to_dict(), "steps": 10**9, "time_budget_s": 600.0}  # "time budget only", as once saved
    assert TrainConfig.from_dict(legacy).steps is None


def test_every_row_names_a_setting_of_train_config():
    config = _unusual()
    for field in TRAIN_FIELDS:
        get_path(config, field.path)  # AttributeError on a misspelt path
    assert len({f.flag for f in TRAIN_FIELDS}) == len(TRAIN_FIELDS)


@pytest.mark.parametrize("field", TRAIN_FIELDS, ids=lambda f: f.flag)
def test_each_option_sets_its_setting(field):
    value = SAMPLE[field.kind]
    if field.kind is bool:  # the switch away from the preset's setting
        value = not field.value(preset_defaults("compact"))
        argv = [field.flag if value else f"--no-{field.flag[2:]}"]
    else:
        argv = [field.flag, str(value)]
    args = build_parser().parse_args(["train", "--preset", "compact", *argv])
    config = config_from_args(args)
    assert field.value(config) == value
    assert field.value(preset_defaults("compact")) != value  # the option changed something
    if isinstance(field, SwitchField):
        assert (get_path(config, field.path) is None) == (not value)


def test_options_left_out_keep_the_presets_values_and_minutes_alone_bound_the_run():
    args = build_parser().parse_args(["train", "--preset", "koch2015", "--device", "cpu"])
    assert config_from_args(args) == replace(preset_defaults("koch2015"), device="cpu")
    timed = config_from_args(build_parser().parse_args(["train", "--minutes", "2"]))
    assert timed.time_budget_s == 120.0 and timed.steps is None
    both = config_from_args(build_parser().parse_args(["train", "--minutes", "2", "--steps", "50"]))
    assert both.time_budget_s == 120.0 and both.steps == 50


def test_the_train_tab_shows_and_returns_every_setting_of_its_form(qtbot, tmp_path):
    from app.train_tab import TrainTab

    tab = TrainTab(data_dir=tmp_path / "no-data", runs_root=tmp_path / "runs", auto_estimate=False)
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: not tab.dataset.is_loading(), timeout=20_000)
    config = replace(_unusual(), val_way=9, device="cpu")
    tab.set_config(config)
    assert tab.config() == config  # val_way is not in the form: kept as given
    assert tab.budget_spin.value() == 1.5 and tab.budget_radio.isChecked()
    counted = replace(config, steps=1234, time_budget_s=None, augment=None)
    tab.set_config(counted)
    assert tab.config() == counted and not tab.augment_box.isChecked()

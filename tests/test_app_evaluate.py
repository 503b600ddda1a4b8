"""The Evaluate tab on tiny synthetic evaluation data: benchmark result table, per-alphabet accuracy, the failed
trials grid, cancel, the official runs format, and a closing tab leaving no thread behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.evaluate_tab import EvaluateTab, glyph_pixmap  # noqa: E402
from engine.evaluate import PUBLISHED  # noqa: E402
from engine.model import build_model  # noqa: E402
from engine.paths import SHIPPED_WEIGHTS  # noqa: E402
from engine.weights import save_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_surprise_dialogs")


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory) -> Path:
    """An untrained tiny model: fast on CPU, and it fails plenty of trials to show."""
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    return save_weights(build_model("tiny"), path, {"name": "test tiny"})


def make_tab(qtbot, evaluation_dir: Path, weights: Path) -> EvaluateTab:
    tab = EvaluateTab(data_dir=evaluation_dir)
    qtbot.addWidget(tab)
    assert tab.model_path() == SHIPPED_WEIGHTS  # the default
    tab.set_model_path(weights)
    qtbot.waitUntil(lambda: "evaluation" in tab.dataset.sets and not tab.dataset.is_loading(), timeout=60000)
    tab.device_combo.setCurrentIndex(tab.device_combo.findData("cpu"))
    return tab


def test_benchmark_fills_result_tables_and_failure_grid(qtbot, evaluation_dir, tiny_weights):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.way_spin.setValue(5)
    tab.tasks_spin.setValue(30)
    assert tab.run_button.isEnabled()
    assert tab.run_benchmark()
    assert tab.cancel_button.isEnabled() and not tab.run_button.isEnabled()
    qtbot.waitUntil(lambda: tab.outcome is not None and not tab.is_running(), timeout=60000)

    r = tab.outcome.result
    assert r.n_tasks == 30 and r.n_trials == 150 and r.config.way == 5
    assert 0.0 <= r.accuracy <= 1.0 and r.ci95 >= 0
    assert f"{r.accuracy:.1%}" in tab.headline.text() and "95% interval" in tab.headline.text()

    names = [tab.compare_table.item(i, 0).text() for i in range(tab.compare_table.rowCount())]
    assert tab.compare_table.rowCount() == len(PUBLISHED) + 1
    assert any(n.startswith("This model: test tiny") for n in names)
    assert any("Koch" in n for n in names) and any("People" in n for n in names)
    koch_row = next(i for i, n in enumerate(names) if "Koch" in n)
    assert tab.compare_table.item(koch_row, 1).text() == "92.0%"
    assert "not comparable" in " ".join(names)  # 5-way is not the published setting

    assert tab.alphabet_table.rowCount() == 3
    total = sum(int(tab.alphabet_table.item(i, 2).text()) for i in range(3))
    assert total == r.n_trials

    assert r.failures, "an untrained model fails some trials"
    assert tab.failure_table.rowCount() == min(len(r.failures), 300)
    icon_cell = tab.failure_table.item(0, 0).data(0x1)  # Qt.DecorationRole
    assert icon_cell is not None and not icon_cell.isNull()
    assert tab.outcome.failure_pixels.shape[1:] == (3, 105, 105)
    first = r.failures[0]
    data = tab.dataset.sets["evaluation"]
    assert np.array_equal(tab.outcome.failure_pixels[0, 0], data.pixels(np.array([first.query]))[0])
    assert tab.progress_bar.value() == tab.progress_bar.maximum()


def run_validation(qtbot, tab: EvaluateTab, tasks: int = 5) -> None:
    """Run a 5-way benchmark on the model's validation alphabets and wait for its outcome."""
    qtbot.waitUntil(lambda: "background" in tab.dataset.sets, timeout=60000)
    tab.split_combo.setCurrentIndex(tab.split_combo.findData("validation"))
    tab.way_spin.setValue(5)
    tab.tasks_spin.setValue(tasks)
    assert tab.run_benchmark()
    qtbot.waitUntil(lambda: tab.outcome is not None and not tab.is_running(), timeout=60000)


def test_validation_alphabets_are_the_ones_the_model_held_out(qtbot, evaluation_dir, both_sets_dir, tmp_path):
    """Model selection without the evaluation alphabets: the benchmark runs on the background alphabets that the
    model's card says were held out of its training, and is not set beside the published numbers."""
    import torch

    torch.manual_seed(0)
    weights = save_weights(build_model("tiny"), tmp_path / "held-out.safetensors",
                           {"name": "held out", "split": {"val_alphabets": ["Alphabet_1"]}})
    only_evaluation = make_tab(qtbot, evaluation_dir, weights)
    only_evaluation.split_combo.setCurrentIndex(only_evaluation.split_combo.findData("validation"))
    assert not only_evaluation.run_button.isEnabled()  # that folder has no background set
    assert not only_evaluation.run_benchmark() and "images_background" in only_evaluation.message_label.text()

    tab = make_tab(qtbot, both_sets_dir, weights)
    run_validation(qtbot, tab, tasks=10)
    assert list(tab.outcome.result.per_alphabet) == ["Alphabet_1"]
    assert [tab.alphabet_table.item(i, 0).text() for i in range(tab.alphabet_table.rowCount())] == ["Alphabet 1"]
    assert "validation alphabets" in tab.headline.text()
    names = " ".join(tab.compare_table.item(i, 0).text() for i in range(tab.compare_table.rowCount()))
    assert "validation alphabets, not comparable" in names
    assert "names no held-out alphabets" not in tab.message_label.text()


def test_validation_of_a_model_whose_card_names_no_held_out_alphabets_says_so(qtbot, tiny_weights, both_sets_dir):
    tab = make_tab(qtbot, both_sets_dir, tiny_weights)
    run_validation(qtbot, tab)
    assert "may have trained on some of them" in tab.message_label.text()


def start_long_benchmark(qtbot, data_dir, weights) -> EvaluateTab:
    """Return a tab running a benchmark long enough (2,000 5-way tasks) to be interrupted."""
    tab = make_tab(qtbot, data_dir, weights)
    tab.way_spin.setValue(5)
    tab.tasks_spin.setValue(2000)
    tab.show()
    tab.run_benchmark()
    return tab


def test_benchmark_can_be_cancelled(qtbot, evaluation_dir, tiny_weights):
    tab = start_long_benchmark(qtbot, evaluation_dir, tiny_weights)
    tab.cancel()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60000)
    assert tab.outcome is None
    assert "Cancel" in tab.message_label.text()


def test_official_runs_folder(qtbot, evaluation_dir, tiny_weights, tmp_path):
    runs = tmp_path / "runs"
    data_png = sorted((evaluation_dir / "images_evaluation").rglob("*.png"))
    for run in ("run01", "run02"):
        (runs / run / "training").mkdir(parents=True)
        (runs / run / "test").mkdir()
        lines = []
        for k in range(5):
            chars = sorted({p.parent for p in data_png})[k]
            drawings = sorted(chars.glob("*.png"))
            Image.open(drawings[0]).save(runs / run / "training" / f"class{k + 1:02d}.png")
            Image.open(drawings[1]).save(runs / run / "test" / f"item{k + 1:02d}.png")
            lines.append(f"{run}/test/item{(k + 1):02d}.png {run}/training/class{(k + 1):02d}.png")
        (runs / run / "class_labels.txt").write_text("\n".join(lines) + "\n")
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.runs_edit.setText(str(runs))
    assert tab.run_official()
    qtbot.waitUntil(lambda: bool(tab.run_results) and not tab.is_running(), timeout=60000)
    assert [r.name for r in tab.run_results] == ["run01", "run02"]
    assert tab.runs_table.rowCount() == 2 and tab.runs_table.item(0, 0).text() == "run01"
    assert "Mean error" in tab.runs_label.text()


def test_missing_runs_folder_is_reported(qtbot, evaluation_dir, tiny_weights, tmp_path):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.runs_edit.setText(str(tmp_path / "nothing"))
    tab.run_official()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60000)
    assert "No runNN/class_labels.txt" in tab.message_label.text()


def test_bad_weights_file_is_reported(qtbot, evaluation_dir, tiny_weights, tmp_path):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    tab.set_model_path(bad)
    assert "not a readable safetensors" in tab.model_label.text()


def test_close_while_evaluating_leaves_no_thread(qtbot, evaluation_dir, tiny_weights):
    tab = start_long_benchmark(qtbot, evaluation_dir, tiny_weights)
    assert tab.close()
    assert not tab.threads()


def test_glyph_pixmap_draws_ink_black():
    glyph = np.zeros((105, 105), np.uint8)
    glyph[50:55, :] = 1
    image = glyph_pixmap(glyph, 105).toImage()
    assert image.pixelColor(10, 10).lightness() > 200 and image.pixelColor(10, 52).lightness() < 50

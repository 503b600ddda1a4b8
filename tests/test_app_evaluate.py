"""The Evaluate tab on tiny synthetic evaluation data: benchmark result table, per-alphabet accuracy, the failed
trials grid, cancel, Lake's official runs (found, chosen as a zip or folder, downloaded, damaged), and a closing
tab leaving no thread behind."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app.evaluate_tab import EvaluateTab, glyph_pixmap  # noqa: E402
from app_helpers import in_view  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from engine.evaluation.evaluate import PUBLISHED  # noqa: E402
from engine.model import build_model  # noqa: E402
from engine.paths import SHIPPED_WEIGHTS  # noqa: E402
from engine.weights import save_weights  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_surprise_dialogs")


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

    # Seeded tasks are a different, harder protocol than the one behind the published figures: none beside it.
    names = [tab.compare_table.item(i, 0).text() for i in range(tab.compare_table.rowCount())]
    assert len(names) == 1 and names[0].startswith("This model: test tiny") and "5-way 1-shot" in names[0]
    assert "harder protocol" in tab.protocol_label.text()

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
    names = [tab.compare_table.item(i, 0).text() for i in range(tab.compare_table.rowCount())]
    assert len(names) == 1 and "validation alphabets" in names[0] and "not for comparing" in tab.protocol_label.text()
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


def official_labels(monkeypatch) -> None:
    """Let the synthetic runs pass for Lake's own (which the engine recognises by their labels)."""
    import dataclasses

    import app.evaluate_tab as evaluate_tab

    real = evaluate_tab.read_runs
    monkeypatch.setattr(evaluate_tab, "read_runs", lambda source: dataclasses.replace(real(source), official=True))


def wait_for_runs(qtbot, tab: EvaluateTab) -> None:
    qtbot.waitUntil(lambda: tab.runs_outcome is not None and not tab.is_running(), timeout=60000)


def test_official_runs_found_beside_the_archives_are_offered_and_shown_beside_published_figures(
        qtbot, synthetic_runs, tiny_weights, monkeypatch):
    official_labels(monkeypatch)
    tab = make_tab(qtbot, synthetic_runs.omniglot_dir, tiny_weights)
    assert tab.split_combo.currentData() == "official"  # found, so offered first
    assert tab.runs_edit.text() == str(synthetic_runs.zip) and "Found" in tab.runs_hint.text()
    assert not tab.way_spin.isEnabled() and tab.run_button.isEnabled()
    assert tab.run_benchmark()
    wait_for_runs(qtbot, tab)

    summary = tab.runs_outcome.summary
    assert summary.n_trials == 10 and [r.name for r in summary.runs] == ["run01", "run02"]
    assert f"{summary.accuracy:.1%}" in tab.headline.text() and "Lake's 20 official runs" in tab.headline.text()
    names = [tab.compare_table.item(i, 0).text() for i in range(tab.compare_table.rowCount())]
    assert tab.compare_table.rowCount() == len(PUBLISHED) + 1
    koch_row = next(i for i, n in enumerate(names) if "Koch" in n)
    assert tab.compare_table.item(koch_row, 1).text() == "92.0%"
    assert any(n.startswith("This model: test tiny — Lake's 20 official runs") for n in names)
    assert tab.alphabet_table.horizontalHeaderItem(0).text() == "Run"
    assert [tab.alphabet_table.item(i, 0).text() for i in range(2)] == ["run01", "run02"]
    wrong = sum(len(r.wrong) for r in summary.runs)
    assert tab.failure_table.rowCount() == wrong == round((1 - summary.accuracy) * 10)
    if wrong:
        assert tab.runs_outcome.failure_pixels.shape == (wrong, 3, 105, 105)
        assert tab.failure_table.item(0, 3).text() in ("run01", "run02")


@pytest.mark.parametrize("form", ["zip", "folder"])
def test_runs_chosen_as_a_zip_or_a_folder(qtbot, evaluation_dir, synthetic_runs, tiny_weights, form):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    assert tab.split_combo.currentData() == "evaluation"  # no runs there: the seeded tasks stay chosen
    tab.split_combo.setCurrentIndex(tab.split_combo.findData("official"))
    assert not tab.run_button.isEnabled()
    tab.set_runs_source(str(synthetic_runs.zip if form == "zip" else synthetic_runs.folder))
    assert tab.run_button.isEnabled() and "Chosen by you" in tab.runs_hint.text()
    assert tab.run_benchmark()
    wait_for_runs(qtbot, tab)
    assert [r.name for r in tab.runs_outcome.summary.runs] == ["run01", "run02"]
    # Not Lake's runs (their labels differ): no published figures beside them.
    assert tab.compare_table.rowCount() == 1 and "not on these" in tab.protocol_label.text()


def test_missing_runs_say_how_to_get_them_and_download_fetches_them(qtbot, synthetic_omniglot, synthetic_runs,
                                                                      tiny_weights, tmp_path, monkeypatch):
    import shutil

    import app.dataset_panel as dataset_panel

    folder = tmp_path / "omniglot"
    shutil.copytree(synthetic_omniglot.zip_dir, folder)
    tab = make_tab(qtbot, folder, tiny_weights)
    tab.split_combo.setCurrentIndex(tab.split_combo.findData("official"))
    assert not tab.run_button.isEnabled() and tab.runs_download_button.isVisibleTo(tab)
    assert "Not found" in tab.runs_hint.text() and "Download" in tab.runs_hint.text()
    assert not tab.run_official() and "all_runs.zip" in tab.message_label.text()

    def fake_download(where, progress=None, cancel=None, timeout=10.0):  # offline: the runs are copied in
        shutil.copyfile(synthetic_runs.zip, Path(where) / "all_runs.zip")
        return {"runs": Path(where) / "all_runs.zip"}

    monkeypatch.setattr(dataset_panel, "download_omniglot", fake_download)
    tab.runs_download_button.click()
    qtbot.waitUntil(lambda: tab.runs_edit.text() == str(folder / "all_runs.zip") and not tab.dataset.is_loading(),
                    timeout=60000)
    assert tab.run_button.isEnabled() and not tab.runs_download_button.isVisibleTo(tab)


def test_a_damaged_runs_zip_is_reported(qtbot, evaluation_dir, tiny_weights, tmp_path):
    bad = tmp_path / "all_runs.zip"
    bad.write_bytes(b"PK\x03\x04 truncated")
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.set_runs_source(str(bad))
    assert tab.run_official()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60000)
    assert "not a readable zip" in tab.message_label.text() and tab.runs_outcome is None


def test_missing_runs_folder_is_reported(qtbot, evaluation_dir, tiny_weights, tmp_path):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.runs_edit.setText(str(tmp_path / "nothing"))
    tab.run_official()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60000)
    assert "nothing: no such file or folder" in tab.message_label.text()


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


def test_the_tab_scores_with_the_views_the_models_card_names(synthetic_data, tmp_path):
    # The tab's figures are those of `engine evaluate` and the app's ranking: the card's reference views.
    import threading

    import torch

    from app.evaluate_tab import run_benchmark
    from engine.evaluation.evaluate import OneShotConfig

    torch.manual_seed(0)
    weights = save_weights(build_model("tiny"), tmp_path / "viewed.safetensors",
                           {"name": "viewed", "views": {"reference_views": 2}})
    outcome = run_benchmark(weights, "cpu", synthetic_data.evaluation, OneShotConfig(way=5, tasks=2), None,
                            threading.Event())
    assert outcome.result.views.reference_views == 2


def test_run_and_cancel_stay_in_view_when_the_window_is_short(qtbot, evaluation_dir, tiny_weights):
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.resize(1000, 380)  # shorter than the controls: their column scrolls, the buttons below it do not
    tab.show()
    qtbot.waitExposed(tab)
    QApplication.processEvents()
    for widget in (tab.run_button, tab.cancel_button, tab.progress_bar):
        assert in_view(widget, tab)


def test_the_model_validation_figure_is_the_card_s(qtbot, evaluation_dir, tiny_weights):
    import json

    card = json.loads(SHIPPED_WEIGHTS.with_suffix(".json").read_text())
    tab = make_tab(qtbot, evaluation_dir, tiny_weights)
    tab.set_model_path(SHIPPED_WEIGHTS)
    expected = f"validation {card['validation_accuracy_2000_tasks']:.1%} on 2,000 tasks"
    assert expected in tab.model_label.text()  # the figure the README quotes, from the one card

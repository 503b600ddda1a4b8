"""The Train tab on tiny synthetic Omniglot data: dataset checks, start / pause / resume / stop, checkpoints,
continuing a run, closing during training, failures, and curves that stay fast with 100,000 points."""

from __future__ import annotations

import gc
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from app.curves import TrainingCurves  # noqa: E402
from app.dataset_panel import DatasetPanel  # noqa: E402
from app.train_tab import TrainTab  # noqa: E402
from engine.pairs import BatchConfig  # noqa: E402
from engine.train import StepEvent, ValidationEvent  # noqa: E402
from engine.train.checkpoint import load_checkpoint  # noqa: E402
from synthetic import tiny_config  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread", "no_surprise_dialogs")

ALPHABETS, CHARACTERS = 3, 6  # what conftest's omniglot_dir holds


@pytest.fixture(autouse=True)
def unfreeze_after_the_test():
    """Start freezes the objects alive then, for good, as the app wants; the test process gives them back."""
    yield
    gc.unfreeze()


def make_tab(qtbot, data_dir: Path, runs: Path) -> TrainTab:
    tab = TrainTab(data_dir=data_dir, runs_root=runs, auto_estimate=False)
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: "background" in tab.dataset.sets and not tab.dataset.is_loading(), timeout=PROGRESS_MS)
    return tab


# Generous waits for progress (the machine may be shared and busy); the 2 s limits are on reactions only.
PROGRESS_MS = 60_000


def wait_steps(qtbot, tab: TrainTab, at_least: int, timeout: int = PROGRESS_MS) -> int:
    qtbot.waitUntil(lambda: tab.last_step_event is not None and tab.last_step_event.step >= at_least,
                    timeout=timeout)
    return tab.last_step_event.step


def wait_thread_gone(qtbot, tab: TrainTab, timeout: int = 2000) -> None:
    qtbot.waitUntil(lambda: not tab.is_training() and tab.state == "idle", timeout=timeout)


# --- dataset panel ----------------------------------------------------------------------------------------------

def test_dataset_panel_reports_found_missing_and_damaged(qtbot, omniglot_dir, tmp_path):
    panel = DatasetPanel(("background",), folder=omniglot_dir)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.dataset_changed, timeout=PROGRESS_MS) as found:
        pass
    status = found.args[0]
    assert status.state == "found"
    assert status.sets["background"].n_characters == ALPHABETS * CHARACTERS
    assert "3 alphabets, 18 characters, 360 images" in panel.state_label.text()

    with qtbot.waitSignal(panel.dataset_changed, timeout=PROGRESS_MS) as missing:
        panel.set_folder(tmp_path / "empty")
    assert missing.args[0].state == "missing" and not panel.sets
    assert "images_background.zip" in panel.state_label.text()
    assert not panel.help_box.isHidden()  # the "get the dataset" help opens by itself

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "images_background.zip").write_bytes(b"PK\x03\x04 truncated")
    with qtbot.waitSignal(panel.dataset_changed, timeout=PROGRESS_MS) as corrupt:
        panel.set_folder(damaged)
    assert corrupt.args[0].state == "corrupt"
    assert "truncated" in panel.state_label.text() or "zip" in panel.state_label.text()


def test_dataset_panel_reads_a_zip_archive(qtbot, omniglot_dir, tmp_path):
    archive_dir = tmp_path / "zipped"
    archive_dir.mkdir()
    with zipfile.ZipFile(archive_dir / "images_background.zip", "w") as zf:
        for png in sorted((omniglot_dir / "images_background").rglob("*.png"))[:40]:
            zf.write(png, png.relative_to(omniglot_dir).as_posix())
    panel = DatasetPanel(("background",), folder=archive_dir)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.status is not None and not panel.is_loading(), timeout=PROGRESS_MS)
    assert panel.status.state == "found" and len(panel.sets["background"]) == 40


# --- training ---------------------------------------------------------------------------------------------------

def test_train_pause_resume_stop_and_checkpoint(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config())
    tab.set_output_dir(tmp_path / "run1")
    assert tab.start_button.isEnabled() and tab.start_button.text() == "Start"
    assert tab.start()
    wait_steps(qtbot, tab, 10)
    assert tab.curves.point_count() >= 5
    x = tab.curves.series["loss"].x
    assert np.all(np.diff(x) > 0), "step events must arrive in order"
    assert np.isfinite(tab.curves.series["loss"].smoothed).all()

    t0 = time.monotonic()
    tab.toggle_pause()
    assert tab.state == "paused" and tab.task.control.is_paused  # the run's own control says so, at once
    qtbot.waitUntil(lambda: tab.task.trainer is not None, timeout=2000)
    paused_at = tab.task.trainer.step
    qtbot.wait(300)
    assert tab.task.trainer.step <= paused_at + 1  # at most the step in flight finishes
    assert tab.pause_button.text() == "Resume" and time.monotonic() - t0 < 2

    tab.toggle_pause()
    wait_steps(qtbot, tab, paused_at + 6)

    t0 = time.monotonic()
    tab.stop()
    wait_thread_gone(qtbot, tab, timeout=2000)
    assert time.monotonic() - t0 < 2
    state = load_checkpoint(tmp_path / "run1")
    assert state["step"] >= paused_at + 6
    assert (tmp_path / "run1" / "last.safetensors").is_file()
    assert tab.start_button.text() == f"Continue from step {state['step']:,}"
    assert "stopped" in tab.message_label.text()

    with qtbot.waitSignal(tab.model_ready, timeout=1000) as ready:
        tab.use_button.click()
    assert Path(ready.args[0]).name in ("best.safetensors", "last.safetensors")


def test_resume_run_continues_from_checkpoint(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config(val_every=10, checkpoint_every=10))
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    wait_steps(qtbot, tab, 12)
    tab.stop()
    wait_thread_gone(qtbot, tab)
    saved = load_checkpoint(tmp_path / "run")["step"]
    assert tab.curves.val.n >= 1  # validation ran at step 10 and on stop

    other = make_tab(qtbot, omniglot_dir, tmp_path / "runs")  # "later": a fresh tab
    other.open_run(tmp_path / "run")
    qtbot.waitUntil(lambda: other.start_button.text() == f"Continue from step {saved:,}", timeout=PROGRESS_MS)
    assert other.curves.point_count() > 0, "curves come back from the checkpoint's history"
    assert not other.preset_combo.isEnabled() and other.steps_spin.isEnabled()
    assert other.config().preset == "tiny" and other.config().batch == BatchConfig(2, 3, 2)
    other.start()
    wait_steps(qtbot, other, saved + 4)
    first = other.curves.series["loss"].x
    assert np.all(np.diff(first) > 0)
    other.stop()
    wait_thread_gone(qtbot, other)
    assert load_checkpoint(tmp_path / "run")["step"] > saved


def _nice(native_id: int) -> int:
    import os

    return os.getpriority(os.PRIO_PROCESS, native_id)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priority is lowered on Linux only")
def test_cpu_training_runs_below_the_ui_priority_and_gives_nothing_back_lowered(qtbot, omniglot_dir, tmp_path):
    import threading

    from app.training import TRAINING_NICENESS

    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config())
    tab.set_output_dir(tmp_path / "run")
    ui_nice = _nice(threading.main_thread().native_id)
    tab.start()
    wait_steps(qtbot, tab, 4)
    training = [t for t in threading.enumerate() if t.name == "glyphs-training"]
    assert len(training) == 1
    assert _nice(training[0].native_id) == min(19, ui_nice + TRAINING_NICENESS)
    assert _nice(threading.main_thread().native_id) == ui_nice  # the UI keeps its priority
    tab.stop()
    wait_thread_gone(qtbot, tab)
    # The lowered thread ends with its run: no thread of the app's pool (which ranks drawings) stays lowered.
    qtbot.waitUntil(lambda: not any(t.name == "glyphs-training" for t in threading.enumerate()), timeout=2000)
    assert load_checkpoint(tmp_path / "run")["step"] >= 4


def test_work_at_lower_priority_returns_its_result_and_raises_its_error():
    import threading

    from app.training import call_at_lower_priority

    caller = threading.get_native_id()
    before = _nice(caller) if sys.platform.startswith("linux") else None
    seen = {}

    def work() -> int:
        seen["thread"] = threading.get_native_id()
        return 42

    assert call_at_lower_priority(work, 3) == 42
    assert seen["thread"] != caller
    with pytest.raises(ZeroDivisionError):
        call_at_lower_priority(lambda: 1 / 0, 3)
    assert call_at_lower_priority(threading.get_native_id, 0) == caller  # 0: no thread of its own
    if before is not None:
        assert _nice(caller) == before  # the caller's own priority is left alone


def test_a_run_whose_checkpoint_is_refused_says_why(qtbot, omniglot_dir, tmp_path):
    import torch

    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config(val_every=0))
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    wait_steps(qtbot, tab, 2)
    tab.stop()
    wait_thread_gone(qtbot, tab)
    path = tmp_path / "run" / "checkpoint.pt"
    state = torch.load(path, weights_only=True)
    name = next(k for k, v in state["model"].items() if v.is_floating_point())
    state["model"][name] = torch.full_like(state["model"][name], float("nan"))  # a diverged run
    torch.save(state, path)

    other = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    other.open_run(tmp_path / "run")
    qtbot.waitUntil(lambda: "NaN" in other.message_label.text(), timeout=PROGRESS_MS)
    assert str(path) in other.message_label.text()
    assert "cannot be continued" in other.out_note.text() and other.start_button.text() == "Start"


def test_closing_during_training_asks_then_stops_cleanly(qtbot, omniglot_dir, tmp_path, monkeypatch):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config())
    tab.set_output_dir(tmp_path / "run")
    tab.show()
    tab.start()
    wait_steps(qtbot, tab, 4)

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    assert tab.close() is False and tab.is_training()  # the user kept training

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Yes)
    t0 = time.monotonic()
    assert tab.close() is True
    assert time.monotonic() - t0 < 2
    assert not tab.is_training() and not tab.threads()
    assert load_checkpoint(tmp_path / "run")["step"] >= 4


def test_confirm_close_without_training_does_not_ask(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    assert tab.confirm_close() is True
    assert tab.shutdown() is True


def test_device_error_is_reported_and_nothing_runs(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config(device="cuda:99"))
    tab.device_combo.addItem("missing GPU", "cuda:99")
    tab.device_combo.setCurrentIndex(tab.device_combo.count() - 1)
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    wait_thread_gone(qtbot, tab, timeout=PROGRESS_MS)
    assert "Could not start training" in tab.message_label.text()
    assert "cuda" in tab.message_label.text().lower()
    assert tab.start_button.text() == "Start"  # nothing was written: still a new run


def test_gpu_out_of_memory_mid_run_keeps_the_checkpoint(qtbot, omniglot_dir, tmp_path, monkeypatch):
    import torch

    from engine.train.trainer import Trainer

    real_step = Trainer.train_one_step

    def failing_step(self):
        if self.step >= 7:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step(self)

    monkeypatch.setattr(Trainer, "train_one_step", failing_step)
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config(checkpoint_every=5))
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    wait_thread_gone(qtbot, tab, timeout=PROGRESS_MS)
    assert "out of memory" in tab.message_label.text()
    assert "Failed at step 7" in tab.progress_bar.format()
    assert load_checkpoint(tmp_path / "run")["step"] == 5  # the last checkpoint is intact
    assert tab.start_button.text() == "Continue from step 5"


def test_speed_estimate_on_the_chosen_device(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.set_config(tiny_config())
    tab.measure_speed()
    qtbot.waitUntil(lambda: "ms/step" in tab.estimate_label.text(), timeout=PROGRESS_MS)
    assert "One epoch" in tab.estimate_label.text()
    qtbot.waitUntil(lambda: not tab.threads(), timeout=5000)


def test_new_run_unlocks_the_form(qtbot, omniglot_dir, tmp_path):
    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.preset_combo.setCurrentIndex(tab.preset_combo.findData("tiny"))
    assert tab.config().preset == "tiny" and tab.config().lr == pytest.approx(2e-3)  # the preset's defaults
    tab.budget_radio.setChecked(True)
    tab.budget_spin.setValue(2)
    assert tab.config().time_budget_s == pytest.approx(120) and tab.config().steps is None  # the budget alone
    tab.new_run()
    assert tab.output_dir().parent == tmp_path / "runs" and tab.preset_combo.isEnabled()


def test_no_control_is_cut_off_in_a_small_window(qtbot, omniglot_dir, tmp_path):
    from PySide6.QtWidgets import QScrollArea

    tab = make_tab(qtbot, omniglot_dir, tmp_path / "runs")
    tab.resize(900, 600)
    tab.show()
    qtbot.waitExposed(tab)
    scroll = tab.findChild(QScrollArea)
    controls = scroll.widget()
    # The column scrolls up and down only, so it must be as wide as its widest row; the curves give way instead.
    assert scroll.viewport().width() >= controls.minimumSizeHint().width()
    assert controls.width() <= scroll.viewport().width()


# --- curves -----------------------------------------------------------------------------------------------------

def _steps(n: int, start: int = 0, total: int = 200_000) -> list[StepEvent]:
    rng = np.random.default_rng(start)
    loss = np.exp(-(start + np.arange(n)) / total) + 0.05 * rng.standard_normal(n)
    return [StepEvent(start + i + 1, total, float(loss[i]), 0.5, 1e-3, 1000.0, 9000.0, float(i), 0.0)
            for i in range(n)]


def test_curves_stay_fast_with_100k_points_and_export(qtbot, tmp_path):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(900, 600)
    curves.show()
    for chunk in range(10):
        curves.add_steps(_steps(10_000, start=chunk * 10_000))
    curves.add_validation([ValidationEvent(s, 0.5 + s / 400_000, 0.02, 0.0, False) for s in range(0, 100_001, 500)])
    assert curves.point_count() == 100_000
    curves.refresh()
    qtbot.wait(50)
    costs = []
    for i in range(12):  # what the UI does per timer tick: redraw one plot, then paint what changed
        curves.add_steps(_steps(10, start=100_000 + 10 * i))
        t0 = time.perf_counter()
        curves.redraw_next()
        QApplication.processEvents()
        costs.append(time.perf_counter() - t0)
    assert np.median(costs) < 0.05, f"a redraw tick with 100k points took {np.median(costs) * 1000:.0f} ms"

    csv_path = curves.export_csv(tmp_path / "curves.csv")
    lines = csv_path.read_text().splitlines()
    assert lines[0].startswith("step,loss,loss_smoothed,pair_accuracy,lr")
    assert len(lines) == 1 + 100_120 + 1  # + the validation at step 0
    png = curves.export_png(tmp_path / "curves.png")
    assert png.stat().st_size > 1000

    curves.truncate(50_000)
    assert curves.point_count() == 50_000 and curves.val.x.max() <= 50_000

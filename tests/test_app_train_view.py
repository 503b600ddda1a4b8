"""What a person sees in the Train tab: curves fitted to the data (the whole plan on request), a state line
that says what is happening from the first second, buttons in view at the default window size that do not move,
a wheel that scrolls the form, and a default preset that suits the device."""

from __future__ import annotations

import gc
import os
import weakref

import numpy as np
import pytest

pytest.importorskip("pytestqt")
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QScrollArea  # noqa: E402

from app.curves import TrainingCurves  # noqa: E402
from app.train_tab import TrainTab  # noqa: E402
from app_helpers import in_view  # noqa: E402
from synthetic import small_train_config  # noqa: E402
from engine.train import StepEvent  # noqa: E402

LOAD_MS = 60_000  # loading the synthetic set on a busy shared machine
# The Train tab's share of the default 1160x730 window (menu bar, tab bar and status bar take the rest).
TAB_SIZE = (1150, 640)


@pytest.fixture(autouse=True)
def close_without_asking(monkeypatch):
    """A tab closed while it trains asks first; offscreen, that modal question would hang the test run."""
    monkeypatch.setattr(QMessageBox, "question", lambda *_a, **_k: QMessageBox.StandardButton.Yes)


@pytest.fixture(autouse=True)
def unfreeze_after_the_test():
    """Start freezes the objects alive then, for good, as the app wants; the test process gives them back."""
    yield
    gc.unfreeze()


@pytest.fixture
def tab(qtbot, synthetic_omniglot, tmp_path) -> TrainTab:
    tab = TrainTab(data_dir=synthetic_omniglot.zip_dir, runs_root=tmp_path / "runs", auto_estimate=False)
    qtbot.addWidget(tab)
    qtbot.waitUntil(lambda: "background" in tab.dataset.sets, timeout=LOAD_MS)
    yield tab
    tab.shutdown()


def _steps(first: int, last: int, total: int) -> list[StepEvent]:
    return [StepEvent(s, total, 1.0 / s, 0.5, 1e-3, 100.0, 900.0, float(s), 0.0) for s in range(first, last + 1)]


def _x_range(curves: TrainingCurves) -> tuple[float, float]:
    return tuple(curves.plots["loss"].viewRange()[0])


def test_curves_fit_the_steps_done_and_show_the_whole_run_on_request(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(800, 500)
    curves.show()
    curves.add_steps(_steps(1, 300, total=6000))  # minutes into a 6,000-step run
    curves.refresh()
    low, high = _x_range(curves)
    assert low <= 1 and 300 <= high <= 1.7 * 300, (low, high)  # the data fill most of the axis, not a sliver

    assert curves.whole_run_box.isEnabled()
    curves.whole_run_box.setChecked(True)
    assert _x_range(curves)[1] >= 6000  # the planned run, whole
    curves.whole_run_box.setChecked(False)
    assert _x_range(curves)[1] <= 1.7 * 300

    curves.add_steps(_steps(301, 2000, total=6000))  # the run goes on: the axis follows it
    curves.refresh()
    assert 2000 <= _x_range(curves)[1] <= 1.7 * 2000


def test_curves_of_a_time_budget_run_have_no_whole_run(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.add_steps(_steps(1, 50, total=None))  # a time budget: the length is not known
    curves.refresh()
    assert not curves.whole_run_box.isEnabled() and 50 <= _x_range(curves)[1] <= 1.7 * 50


def test_curves_draw_two_points_per_pixel_column_and_keep_the_peaks(qtbot):
    # A resumed 100,000-step run whose batches' accuracy is as noisy as real ones: drawing ~10 vertices a pixel
    # column of it took 60 ms a paint, the longest stall of the UI while training.
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(900, 700)
    curves.show()
    qtbot.waitExposed(curves)
    rng = np.random.default_rng(0)
    n = 100_000
    noisy = np.clip(0.8 + 0.05 * rng.standard_normal(n), 0, 1)
    curves.add_steps([StepEvent(s + 1, 0, float(noisy[s]), float(noisy[s]), 1e-3, 100.0, 900.0, float(s), 0.0)
                      for s in range(n)])
    curves.refresh()
    for name in ("loss", "pair_accuracy"):
        width = curves.plots[name].getViewBox().width()
        for curve in (curves.raw_curves[name], curves.smooth_curves[name]):
            x, y = curve.getData()
            assert len(x) <= 2 * width + 8, (name, len(x), width)
        _, raw = curves.raw_curves[name].getData()
        assert raw.max() == noisy.max() and raw.min() == noisy.min()  # the spikes are still drawn


def test_plot_titles_elide_in_a_narrow_view_with_the_whole_title_in_the_tooltip(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(900, 500)
    curves.show()
    qtbot.wait(50)
    titles = {name: plot.titleLabel for name, plot in curves.plots.items()}
    assert {n: t.shown_text() for n, t in titles.items()} == {n: t.full_text() for n, t in titles.items()}
    curves.graphics.setFixedWidth(260)  # narrower than the curves' button bar lets the widget be
    qtbot.wait(50)
    view_width = curves.graphics.viewport().width()
    for name, title in titles.items():
        assert curves.plots[name].sceneBoundingRect().right() <= view_width + 1, name
        assert title.item.boundingRect().width() <= title.width() + 1, name
        assert title.full_text() in title.toolTip()
    elided = [t for t in titles.values() if t.shown_text() != t.full_text()]
    assert elided and all(t.shown_text().endswith("…") for t in elided)
    curves.graphics.setMinimumWidth(0)
    curves.graphics.setMaximumWidth(16777215)
    qtbot.wait(50)
    assert all(t.shown_text() == t.full_text() for t in titles.values()), "the whole titles come back"


def test_state_line_says_what_is_happening_from_the_first_second(qtbot, micro_preset, tab, tmp_path):
    # No step is reported before 10**6 steps: what the line says between Start and the first report shows.
    tab.set_config(small_train_config(steps=10**7, log_every=10**6))
    tab.set_output_dir(tmp_path / "run")
    assert tab.progress_bar.format() == "Not started"
    tab.start_button.click()
    assert "Starting" in tab.progress_bar.format()  # at once, before the training thread has said anything
    qtbot.waitUntil(lambda: tab.state == "running", timeout=LOAD_MS)
    assert "first steps are running" in tab.progress_bar.format(), tab.progress_bar.format()
    assert "Not started" not in tab.progress_bar.format()
    tab.stop()
    assert "Stopping" in tab.progress_bar.format()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
    assert tab.progress_bar.format().startswith("Stopped at step")


def test_a_finished_run_frees_its_model_when_the_next_one_starts(qtbot, micro_preset, tab, tmp_path):
    # Start freezes what the app holds, so that garbage collections during training (160-190 ms with the GIL held)
    # leave it alone; the run before must not be frozen with it, or its model and optimiser would never be freed.
    tab.set_config(small_train_config(steps=10**7))
    assert tab.config().preset == "micro"
    tab.set_output_dir(tmp_path / "first")
    tab.start()
    qtbot.waitUntil(lambda: tab.task is not None and tab.task.trainer is not None, timeout=LOAD_MS)
    first = weakref.ref(tab.task.trainer.model)
    tab.stop()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
    tab.new_run()
    tab.start()
    assert gc.get_freeze_count() > 0
    assert first() is None, "the first run's model is still in memory"
    tab.stop()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)


class _Held:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self):
        self.me = self


def test_what_was_frozen_before_a_run_stays_frozen_after_it(qtbot, micro_preset, tab, tmp_path):
    # The app freezes its startup objects once (torch's modules, the loaded model: a 340 ms collection stall
    # mid-drawing without it). A training run ending must not hand them back to the collector, on the first run
    # or any later one. The witness: a cycle frozen with them is never collected while it stays frozen.
    witness = _Held()
    gc.freeze()
    alive = weakref.ref(witness)
    del witness  # garbage now, but frozen: out of the collector's reach
    tab.set_config(small_train_config(steps=10**7))
    for name in ("first", "second"):
        tab.set_output_dir(tmp_path / name)
        assert tab.start()
        qtbot.waitUntil(lambda: tab.task is not None and tab.task.trainer is not None, timeout=LOAD_MS)
        tab.stop()
        qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
        gc.collect()
        assert alive() is not None, f"the {name} run unfroze what the app had frozen"
    gc.unfreeze()
    gc.collect()
    assert alive() is None  # the witness can tell: unfrozen, the collector frees it


def test_buttons_in_view_at_the_default_window_size(qtbot, synthetic_omniglot, tmp_path):
    # A first start without the dataset: the help box under the folder is open, the column at its longest.
    tab = TrainTab(data_dir=tmp_path / "no-omniglot", runs_root=tmp_path / "runs", auto_estimate=False)
    qtbot.addWidget(tab)
    tab.resize(*TAB_SIZE)
    tab.show()
    qtbot.waitExposed(tab)
    qtbot.waitUntil(lambda: tab.dataset.status is not None and tab.dataset.help_box.isVisible(), timeout=LOAD_MS)
    QApplication.processEvents()
    for button in (tab.start_button, tab.stop_button, tab.resume_run_button, tab.use_button):
        assert in_view(button, tab), button.text()
    tab.shutdown()


def test_buttons_stay_put_when_the_speed_measurement_ends(qtbot, micro_preset, tab):
    tab.set_config(small_train_config())
    tab.resize(*TAB_SIZE)
    tab.show()
    qtbot.waitExposed(tab)
    tab.measure_speed()
    QApplication.processEvents()
    before = {b.text(): b.mapTo(tab, QPoint(0, 0)) for b in (tab.start_button, tab.use_button)}
    qtbot.waitUntil(lambda: "ms/step" in tab.estimate_label.text(), timeout=LOAD_MS)
    QApplication.processEvents()
    after = {b.text(): b.mapTo(tab, QPoint(0, 0)) for b in (tab.start_button, tab.use_button)}
    assert after == before
    assert in_view(tab.start_button, tab)
    qtbot.waitUntil(lambda: not tab.threads(), timeout=LOAD_MS)


def _wheel_down(widget) -> None:
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(centre, QPointF(widget.mapToGlobal(centre.toPoint())), QPoint(0, 0), QPoint(0, -120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(widget, event)


def test_the_wheel_scrolls_the_form_not_the_field_under_the_pointer(qtbot, tab):
    tab.resize(1000, 380)  # short enough for the form to scroll
    tab.show()
    qtbot.waitExposed(tab)
    bar = tab.findChild(QScrollArea).verticalScrollBar()
    assert bar.maximum() > 0
    lr, preset = tab.lr_spin.value(), tab.preset_combo.currentIndex()
    _wheel_down(tab.lr_spin)
    _wheel_down(tab.preset_combo)
    assert bar.value() > 0  # the form scrolled
    assert tab.lr_spin.value() == lr and tab.preset_combo.currentIndex() == preset  # and nothing changed
    tab.lr_spin.setFocus()
    qtbot.waitUntil(tab.lr_spin.hasFocus, timeout=2000)
    _wheel_down(tab.lr_spin)  # a field the person clicked into takes the wheel, as usual
    assert tab.lr_spin.value() < lr


def test_default_preset_follows_the_device(tab):
    device = tab.device_combo.currentData()
    expected = "tiny" if device == "cpu" else "compact"
    assert tab.config().preset == expected and tab.preset_combo.currentData() == expected
    assert str(tab.output_dir().name).startswith(expected)


# --- the state line says what is true now ------------------------------------------------------------------------


def test_after_stop_no_eta_is_left_standing(qtbot, micro_preset, tab, tmp_path):
    tab.set_config(small_train_config(steps=10**7, log_every=1))
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    qtbot.waitUntil(lambda: "ETA" in tab.rate_label.text(), timeout=LOAD_MS)  # running: an ETA is shown
    tab.toggle_pause()
    assert "ETA" not in tab.rate_label.text() and "elapsed" in tab.rate_label.text()  # paused: the clock stands
    tab.toggle_pause()
    qtbot.waitUntil(lambda: "ETA" in tab.rate_label.text(), timeout=LOAD_MS)
    tab.stop()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
    assert tab.progress_bar.format().startswith("Stopped at step")
    assert "ETA" not in tab.rate_label.text() and "elapsed" in tab.rate_label.text()


def test_a_reopened_run_shows_where_it_stands_not_not_started(qtbot, micro_preset, tab, synthetic_omniglot,
                                                              tmp_path):
    tab.set_config(small_train_config(steps=200, log_every=1, checkpoint_every=5))
    tab.set_output_dir(tmp_path / "run")
    tab.start()
    qtbot.waitUntil(lambda: tab.last_step_event is not None and tab.last_step_event.step >= 6, timeout=LOAD_MS)
    tab.stop()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
    saved = int(tab.start_button.text().removeprefix("Continue from step ").replace(",", ""))

    later = TrainTab(data_dir=synthetic_omniglot.zip_dir, runs_root=tmp_path / "runs", auto_estimate=False)
    qtbot.addWidget(later)  # a restart: a fresh tab reopens the last run
    qtbot.waitUntil(lambda: "background" in later.dataset.sets, timeout=LOAD_MS)
    assert later.reopen_run(tmp_path / "run")
    qtbot.waitUntil(lambda: later.start_button.text() == f"Continue from step {saved:,}", timeout=LOAD_MS)
    assert later.curves.point_count() > 0
    assert "Not started" not in later.progress_bar.format()
    assert f"step {saved:,} / 200" in later.progress_bar.format()
    assert later.progress_bar.value() == int(1000 * saved / 200)
    assert "ETA" not in later.rate_label.text()
    later.new_run()  # a new run is not started: the bar says so again
    assert later.progress_bar.format() == "Not started" and later.start_button.text() == "Start"
    later.shutdown()


def test_while_a_run_is_paused_its_folder_cannot_be_changed_and_new_run_says_why(qtbot, micro_preset, tab,
                                                                                 tmp_path):
    tab.set_config(small_train_config(steps=10**7))
    tab.set_output_dir(tmp_path / "run")
    assert tab.new_run_button.isEnabled() and tab.choose_output_button.isEnabled()
    tab.start()
    tab.toggle_pause()
    assert tab.state == "paused"
    for button in (tab.new_run_button, tab.choose_output_button):
        assert not button.isEnabled() and "Stop the run first" in button.toolTip()
    assert tab.new_run() is False
    assert "stop it first" in tab.message_label.text() and tab.output_dir() == tmp_path / "run"
    tab.stop()
    qtbot.waitUntil(lambda: tab.state == "idle", timeout=LOAD_MS)
    assert tab.new_run_button.isEnabled() and tab.choose_output_button.isEnabled()
    assert tab.new_run() is True and tab.output_dir() != tmp_path / "run"

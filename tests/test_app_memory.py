"""What the app remembers between sessions on the Train and Evaluate tabs: the Omniglot folder and the last run."""

from __future__ import annotations

from app_helpers import TIMEOUT_MS
from synthetic import tiny_config


def _tabs_ready(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.train_tab is not None and window.evaluate_tab is not None, timeout=TIMEOUT_MS)


def _idle(panel) -> bool:
    return panel.status is not None and not panel.is_loading()


def test_the_dataset_folder_and_the_last_run_come_back_after_a_restart(make_window, qtbot, synthetic_omniglot,
                                                                      monkeypatch):
    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)  # no dataset anywhere until the person chooses one
    window = make_window(work_tabs=True)
    _tabs_ready(qtbot, window)
    train, evaluate = window.train_tab, window.evaluate_tab
    qtbot.waitUntil(lambda: _idle(train.dataset) and _idle(evaluate.dataset), timeout=TIMEOUT_MS)
    assert evaluate.dataset.status.state == "missing"

    train.dataset.set_folder(synthetic_omniglot.zip_dir)  # chosen once, in the Train tab
    qtbot.waitUntil(lambda: "background" in train.dataset.sets, timeout=TIMEOUT_MS)
    # The Evaluate tab, which had found nothing, looks in the same folder.
    qtbot.waitUntil(lambda: "evaluation" in evaluate.dataset.sets, timeout=TIMEOUT_MS)

    train.set_config(tiny_config(steps=3))
    assert train.start()
    qtbot.waitUntil(lambda: not train.is_training() and train.state == "idle", timeout=TIMEOUT_MS)
    run = train.output_dir()
    window.close()

    again = make_window(work_tabs=True)
    _tabs_ready(qtbot, again)
    assert again.train_tab.dataset.folder() == synthetic_omniglot.zip_dir
    assert again.evaluate_tab.dataset.folder() == synthetic_omniglot.zip_dir
    # The run is open again, ready to be continued from its checkpoint.
    qtbot.waitUntil(lambda: again.train_tab.start_button.text() == "Continue from step 3", timeout=TIMEOUT_MS)
    assert again.train_tab.output_dir() == run
    assert "step 3" in again.train_tab.out_note.text()


def test_a_run_folder_deleted_since_is_passed_over(make_window, qtbot, app_env, tmp_path):
    from app.settings import AppSettings

    AppSettings(app_env["settings"]).last_run = tmp_path / "gone"
    window = make_window(work_tabs=True)
    _tabs_ready(qtbot, window)
    assert window.train_tab.output_dir() != tmp_path / "gone"  # a fresh run folder instead, and no error
    assert window.message_bar.level != "error"


def test_the_folder_chosen_in_the_welcome_is_the_train_and_evaluate_tabs_and_comes_back(
        make_window, qtbot, synthetic_omniglot, monkeypatch):
    from app import dialogs

    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)  # nothing in the default places
    window = make_window(work_tabs=True)
    _tabs_ready(qtbot, window)
    train, evaluate = window.train_tab, window.evaluate_tab
    qtbot.waitUntil(lambda: _idle(train.dataset) and _idle(evaluate.dataset), timeout=TIMEOUT_MS)
    assert train.dataset.status.state == "missing"
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.choose_button.isVisible() and welcome.task is None, timeout=TIMEOUT_MS)
    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: synthetic_omniglot.zip_dir)
    welcome.choose_button.click()
    qtbot.waitUntil(lambda: welcome.try_button.isEnabled(), timeout=TIMEOUT_MS)
    welcome.reject()  # Skip
    # Both tabs now look in the folder chosen there, and find their sets.
    qtbot.waitUntil(lambda: "background" in train.dataset.sets and "evaluation" in evaluate.dataset.sets,
                    timeout=TIMEOUT_MS)
    assert train.dataset.folder() == evaluate.dataset.folder() == synthetic_omniglot.zip_dir
    window.close()

    again = make_window(work_tabs=True)  # a restart
    _tabs_ready(qtbot, again)
    assert again.train_tab.dataset.folder() == synthetic_omniglot.zip_dir
    assert again.evaluate_tab.dataset.folder() == synthetic_omniglot.zip_dir
    again.show_welcome()
    qtbot.waitUntil(lambda: again.welcome.try_button.isEnabled(), timeout=TIMEOUT_MS)
    assert again.welcome.omniglot_status.toolTip().startswith(str(synthetic_omniglot.zip_dir))


def test_a_folder_chosen_in_the_welcome_before_the_tabs_are_built_is_where_they_start(
        make_window, qtbot, synthetic_omniglot, monkeypatch):
    from app import dialogs

    monkeypatch.delenv("OMNIGLOT_DIR", raising=False)
    window = make_window(work_tabs=True, wait_model=False)
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.choose_button.isVisible() and welcome.task is None, timeout=TIMEOUT_MS)
    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: synthetic_omniglot.zip_dir)
    welcome.choose_button.click()
    qtbot.waitUntil(lambda: welcome.try_button.isEnabled(), timeout=TIMEOUT_MS)
    welcome.reject()
    _tabs_ready(qtbot, window)
    qtbot.waitUntil(lambda: "background" in window.train_tab.dataset.sets
                    and "evaluation" in window.evaluate_tab.dataset.sets, timeout=TIMEOUT_MS)

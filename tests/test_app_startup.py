"""Starting the app: fast first paint, remembered gallery/model/geometry, the welcome, a broken model file."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from app_helpers import wait_gallery, wait_idle

REPO = Path(__file__).resolve().parents[1]


def test_window_shows_before_torch_is_imported(tmp_path):
    script = textwrap.dedent("""
        import sys, time
        start = time.perf_counter()
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from app.main_window import MainWindow
        window = MainWindow(welcome=False)
        window.show()
        torch = "torch" in sys.modules  # before the event loop runs: the worker has not started yet
        app.processEvents()
        shown = time.perf_counter() - start
        print(f"shown={shown:.2f} torch={torch} status={window.recognise.results.hint.text()!r}", flush=True)
        import os
        os._exit(0)  # no need to wait for the model load this test is not about
    """)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GLYPHS_SETTINGS_DIR": str(tmp_path / "s"),
           "GLYPHS_DATA_HOME": str(tmp_path / "d"), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("shown="))
    assert "torch=False" in line, line  # the engine's heavy imports wait for the worker
    assert "Loading model" in line
    assert float(line.split()[0].split("=")[1]) < 3.0, line


def test_restart_finds_the_gallery_and_geometry(make_window, qtbot):
    window = make_window()
    window.session.create_gallery("Remembered")
    first = wait_gallery(qtbot, window, 0)
    window.resize(780, 560)  # within the offscreen screen (800x600): restoring clamps to the screen
    size = window.size()
    assert size.height() == 560
    window.close()
    again = make_window(size=None)  # size from the saved geometry
    snapshot = wait_gallery(qtbot, again, 0)
    assert snapshot.path == first.path and snapshot.name == "Remembered"
    assert again.size() == size
    assert "Remembered" in again.status.gallery.text()
    assert again.recognise.gallery_view.switcher.currentText() == first.path.name


def test_a_missing_gallery_is_reported(make_window, app_env, qtbot):
    from app.settings import AppSettings

    AppSettings(app_env["settings"]).last_gallery = app_env["data"] / "gone"
    window = make_window()
    assert "no longer there" in window.message_bar.text()
    assert window.session.snapshot is None


def test_unreadable_model_still_opens_and_offers_another(make_window, app_env, qtbot, tmp_path, monkeypatch):
    from app import dialogs
    from app.settings import AppSettings

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00" * 64)
    AppSettings(app_env["settings"]).last_model = broken
    window = make_window(wait_model=False)
    qtbot.waitUntil(lambda: window.message_bar.text() != "", timeout=20_000)
    assert "Could not load" in window.message_bar.text() and "Open model" in window.message_bar.text()
    assert window.message_bar.action.isVisibleTo(window) and window.status.model.text() == "Model: none"
    wait_idle(qtbot, window)
    # The offered fix: pick another weights file (here the shipped one) from the message bar.
    from engine.paths import SHIPPED_WEIGHTS

    monkeypatch.setattr(dialogs, "open_file", lambda *_a: SHIPPED_WEIGHTS)
    window.message_bar.action.click()
    qtbot.waitUntil(lambda: window.session.model_info is not None, timeout=20_000)
    wait_idle(qtbot, window)
    assert AppSettings(app_env["settings"]).last_model == SHIPPED_WEIGHTS


def test_first_start_welcome_creates_an_empty_gallery(make_window, qtbot, monkeypatch):
    from app import dialogs

    monkeypatch.setenv("OMNIGLOT_DIR", str(Path(os.environ["GLYPHS_DATA_HOME"]) / "no-omniglot"))
    window = make_window(welcome=True)
    qtbot.waitUntil(lambda: window.welcome is not None and window.welcome.isVisible(), timeout=5000)
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.download_button.isVisible(), timeout=20_000)  # Omniglot is not there
    monkeypatch.setattr(dialogs, "ask_text", lambda *_a: "First")
    welcome.create_button.click()
    snapshot = wait_gallery(qtbot, window, 0)
    assert snapshot.name == "First"
    assert str(snapshot.path).startswith(os.environ["GLYPHS_DATA_HOME"])


def _shown_whole(label) -> bool:
    """Return True when a wrapped label is tall enough for its text and lies inside its window."""
    window = label.window()
    top_left = label.mapTo(window, label.rect().topLeft())
    bottom = top_left.y() + label.height()
    return (label.isVisible() and label.width() >= label.minimumSizeHint().width()
            and label.height() >= label.heightForWidth(label.width())
            and top_left.y() >= 0 and bottom <= window.height())


def test_welcome_download_offline_says_so_once_and_whole(make_window, qtbot, monkeypatch):
    import urllib.error
    import urllib.request

    def offline(*_a, **_k):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(urllib.request, "urlopen", offline)  # the engine's real downloader meets no network
    monkeypatch.setenv("OMNIGLOT_DIR", str(Path(os.environ["GLYPHS_DATA_HOME"]) / "no-omniglot"))
    window = make_window()
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.download_button.isVisible(), timeout=20_000)
    welcome.download_button.click()
    qtbot.waitUntil(lambda: "Could not download" in welcome.omniglot_status.text(), timeout=20_000)
    text = welcome.omniglot_status.text()
    assert text.count("Could not download") == 1, text
    assert "Are you online" in text and "Temporary failure in name resolution" in text
    qtbot.waitUntil(lambda: _shown_whole(welcome.omniglot_status), timeout=2000)
    assert welcome.create_button.isEnabled() and welcome.import_button.isEnabled()
    assert welcome.choose_button.isEnabled() and welcome.choose_button.isVisible()
    assert welcome.download_button.isEnabled() and not welcome.progress.isVisible()
    welcome.reject()
    wait_idle(qtbot, window)


def test_welcome_choose_folder_finds_omniglot_and_tries_an_alphabet(make_window, qtbot, monkeypatch,
                                                                   synthetic_omniglot, tmp_path):
    from app import dialogs

    monkeypatch.setenv("OMNIGLOT_DIR", str(Path(os.environ["GLYPHS_DATA_HOME"]) / "no-omniglot"))
    window = make_window()
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.choose_button.isVisible(), timeout=20_000)
    assert not welcome.try_button.isEnabled()

    empty = tmp_path / "not-omniglot"
    empty.mkdir()
    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: empty)
    welcome.choose_button.click()
    qtbot.waitUntil(lambda: "No Omniglot evaluation set in" in welcome.omniglot_status.text(), timeout=20_000)
    assert str(empty) in welcome.omniglot_status.text() and not welcome.try_button.isEnabled()
    assert _shown_whole(welcome.omniglot_status)

    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: synthetic_omniglot.zip_dir)
    welcome.choose_button.click()
    qtbot.waitUntil(lambda: welcome.try_button.isEnabled(), timeout=20_000)
    assert welcome.alphabets.isVisible()
    assert [welcome.alphabets.itemText(i) for i in range(welcome.alphabets.count())] == \
        synthetic_omniglot.alphabets["evaluation"]
    welcome.alphabets.setCurrentText("Angelic")
    welcome.try_button.click()
    snapshot = wait_gallery(qtbot, window, synthetic_omniglot.characters)
    assert snapshot.name == "Angelic"


def test_welcome_finds_omniglot_in_the_folder_the_app_last_used(make_window, qtbot, monkeypatch, app_env,
                                                                synthetic_omniglot):
    from app.settings import AppSettings

    monkeypatch.setenv("OMNIGLOT_DIR", str(Path(os.environ["GLYPHS_DATA_HOME"]) / "no-omniglot"))
    window = make_window()
    window.settings.dataset_folder = synthetic_omniglot.zip_dir  # chosen earlier in the Train tab
    assert AppSettings(app_env["settings"]).dataset_folder == synthetic_omniglot.zip_dir
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.try_button.isEnabled(), timeout=20_000)
    assert "Omniglot is on this computer" in welcome.omniglot_status.text()
    welcome.alphabets.setCurrentText("Glagolitic")
    welcome.try_button.click()
    assert wait_gallery(qtbot, window, synthetic_omniglot.characters).name == "Glagolitic"


def test_welcome_download_can_be_cancelled(make_window, qtbot, monkeypatch):
    import engine.data

    def slow(data_dir=None, progress=None, cancel=None, timeout=10.0):
        while not cancel.wait(0.01):  # a download that only ends when cancelled
            progress("images_background.zip", 1000, 100000)
        raise RuntimeError("cancelled")

    monkeypatch.setattr(engine.data, "download_omniglot", slow)
    monkeypatch.setenv("OMNIGLOT_DIR", str(Path(os.environ["GLYPHS_DATA_HOME"]) / "no-omniglot"))
    window = make_window()
    window.show_welcome()
    welcome = window.welcome
    qtbot.waitUntil(lambda: welcome.download_button.isVisible(), timeout=20_000)
    welcome.download_button.click()
    qtbot.waitUntil(lambda: welcome.progress.value() > 0, timeout=5000)
    welcome.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in welcome.omniglot_status.text(), timeout=5000)
    welcome.reject()
    wait_idle(qtbot, window)


def test_transcribe_train_and_evaluate_tabs_are_added(make_window, qtbot):
    window = make_window(work_tabs=True)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Recognise", "Transcribe", "Train", "Evaluate"]

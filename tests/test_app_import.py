"""Importing alphabets (folder, zip, dropped files) and refusing files that are not images."""

from __future__ import annotations

import zipfile

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app_helpers import draw, sample_drawings, wait_gallery, wait_idle, wait_ranked, write_glyph_png


def _alphabet_folder(root):
    """Write one PNG per sample character into root/<name>.png; return (folder, names)."""
    drawings = sample_drawings()
    for name, (reference, _query) in drawings.items():
        write_glyph_png(root / f"{name}.png", reference)
    return root, list(drawings)


def _drop(widget, paths):
    """Drag local files onto `widget` and drop them, as Qt delivers a drag: enter (accepted), then drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    buttons, mods, action = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, Qt.DropAction.CopyAction
    enter = QDragEnterEvent(centre.toPoint(), action, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the widget refused the drag"
    QApplication.sendEvent(widget, QDropEvent(centre, action, mime, buttons, mods))


def test_import_folder_then_recognise(make_window, qtbot, tmp_path, monkeypatch):
    from app import dialogs

    folder, names = _alphabet_folder(tmp_path / "Shapes")
    window = make_window()
    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: folder)
    window.act_import_folder.trigger()
    snapshot = wait_gallery(qtbot, window, len(names))
    assert sorted(snapshot.names()) == sorted(names)
    assert window.recognise.gallery_view.grid.count() == len(names)
    name, (_reference, query) = next(iter(sample_drawings().items()))
    draw(qtbot, window.recognise.canvas, query)
    assert wait_ranked(qtbot, window).matches[0].name == name


def test_import_zip_by_dropping_it_on_the_gallery(make_window, qtbot, tmp_path):
    folder, names = _alphabet_folder(tmp_path / "src" / "Zipped")
    archive = tmp_path / "Zipped.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for png in folder.iterdir():
            zf.write(png, f"Zipped/{png.name}")
    window = make_window()
    _drop(window.recognise.gallery_view.grid.viewport(), [archive])
    snapshot = wait_gallery(qtbot, window, len(names))
    assert sorted(snapshot.names()) == sorted(names)
    assert snapshot.path.parent == window.session.snapshot.path.parent  # kept in the user data folder


def test_images_dropped_on_the_gallery_join_it(make_window, qtbot, tmp_path):
    folder, names = _alphabet_folder(tmp_path / "imgs")
    window = make_window()
    window.session.create_gallery("Mine")
    wait_gallery(qtbot, window, 0)
    _drop(window.recognise.gallery_view.grid.viewport(), sorted(folder.iterdir()))
    snapshot = wait_gallery(qtbot, window, len(names))
    assert sorted(snapshot.names()) == sorted(names)


def test_an_omniglot_image_added_to_a_gallery_keeps_its_pixels(make_window, qtbot, tmp_path):
    """Added images are read like gallery import reads them: an Omniglot-style image (two levels, Omniglot's
    stroke width, ink spanning at least Omniglot's smallest framing) is not re-framed, even off-centre."""
    import numpy as np
    from PIL import Image

    from engine.gallery import load_gallery

    ink = np.zeros((105, 105), bool)
    ink[8:50, 10:14] = ink[46:50, 10:30] = True  # an "L" near the top-left corner, as drawn
    Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).convert("1").save(tmp_path / "ell.png")
    window = make_window()
    window.session.create_gallery("Mine")
    wait_gallery(qtbot, window, 0)
    _drop(window.recognise.gallery_view.grid.viewport(), [tmp_path / "ell.png"])
    snapshot = wait_gallery(qtbot, window, 1)
    stored = load_gallery(snapshot.path).characters[0].references[0].pixels
    np.testing.assert_array_equal(stored >= 0.5, ink)


def test_dropping_a_non_image_or_corrupt_png_on_the_canvas_changes_nothing(make_window, qtbot, tmp_path):
    window = make_window()
    tab = window.recognise
    draw(qtbot, tab.canvas, next(iter(sample_drawings().values()))[1])
    wait_ranked(qtbot, window, state=None)
    before = (tab.canvas.stroke_count(), tab.drawing_id, tab.results.outcome)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    good = write_glyph_png(tmp_path / "good.png", next(iter(sample_drawings().values()))[0])
    corrupt = tmp_path / "broken.png"
    corrupt.write_bytes(good.read_bytes()[:60])  # a PNG header and nothing usable
    for bad in (text, corrupt):
        window.message_bar.dismiss()
        _drop(tab.canvas, [bad])
        qtbot.waitUntil(lambda: window.message_bar.text() != "", timeout=20_000)
        assert bad.name in window.message_bar.text() and window.message_bar.level == "error"
        reason = window.message_bar.text().split(" Drop or open")[0]
        assert reason.endswith(".") and not reason.endswith(".."), "the reason runs into the next sentence"
        wait_idle(qtbot, window)
        assert (tab.canvas.stroke_count(), tab.drawing_id, tab.results.outcome) == before
        assert not tab.canvas.has_image()


def test_an_opened_image_is_shown_and_recognised(make_window, qtbot, tmp_path, monkeypatch):
    from app import dialogs

    folder, names = _alphabet_folder(tmp_path / "Shapes")
    window = make_window()
    window.import_gallery(folder)
    wait_gallery(qtbot, window, len(names))
    image = write_glyph_png(tmp_path / "query.png", sample_drawings()[names[0]][1])
    monkeypatch.setattr(dialogs, "open_file", lambda *_a: image)
    window.act_open_image.trigger()
    outcome = wait_ranked(qtbot, window)
    assert window.recognise.canvas.has_image()
    assert outcome.matches[0].name == names[0]


def test_export_zip_and_folder(make_window, qtbot, tmp_path, monkeypatch):
    from app import dialogs

    folder, names = _alphabet_folder(tmp_path / "Shapes")
    window = make_window()
    window.import_gallery(folder)
    wait_gallery(qtbot, window, len(names))
    monkeypatch.setattr(dialogs, "save_file", lambda *_a: tmp_path / "out.zip")
    window.act_export_zip.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "out.zip").is_file() and not window.runner.busy, timeout=20_000)
    assert zipfile.is_zipfile(tmp_path / "out.zip")
    (tmp_path / "exports").mkdir()
    monkeypatch.setattr(dialogs, "open_folder", lambda *_a: tmp_path / "exports")
    window.act_export_folder.trigger()
    qtbot.waitUntil(lambda: "Exported" in window.message_bar.text() and not window.runner.busy, timeout=20_000)
    assert any((tmp_path / "exports").iterdir())


def test_an_import_can_be_cancelled_from_the_status_bar(make_window, qtbot, tmp_path, monkeypatch):
    import engine.gallery

    started = []

    def endless_import(source, dest, name=None, progress=None, cancel=None):
        started.append(source)
        while not cancel.wait(0.01):  # an import that only ends when cancelled
            progress(1, 1000)
        raise RuntimeError("cancelled")

    monkeypatch.setattr(engine.gallery, "import_gallery", endless_import)
    folder, _names = _alphabet_folder(tmp_path / "Big")
    window = make_window()
    window.import_gallery(folder)
    qtbot.waitUntil(lambda: bool(started) and window.status.cancel.isVisible(), timeout=20_000)
    assert "Importing Big" in window.status.task_label.text()
    window.status.cancel.click()
    qtbot.waitUntil(lambda: "cancelled" in window.message_bar.text(), timeout=20_000)
    wait_idle(qtbot, window)
    assert window.session.snapshot is None and not window.status.progress.isVisible()


def test_a_damaged_gallery_leaves_the_current_one_open(make_window, qtbot, tmp_path):
    from app_helpers import make_gallery

    drawings = sample_drawings()
    good = make_gallery(tmp_path / "good", drawings, name="Good")
    bad = make_gallery(tmp_path / "bad", drawings, name="Bad")
    next((bad / "images").iterdir()).unlink()  # the index now names a missing image
    window = make_window()
    window.open_gallery(good)
    wait_gallery(qtbot, window, len(drawings))
    window.open_gallery(bad)
    qtbot.waitUntil(lambda: "failed" in window.message_bar.text(), timeout=20_000)
    assert "bad" in window.message_bar.text() and window.message_bar.level == "error"
    wait_idle(qtbot, window)
    assert window.session.snapshot.name == "Good"
    draw(qtbot, window.recognise.canvas, next(iter(drawings.values()))[1])
    assert wait_ranked(qtbot, window).matches[0].name == next(iter(drawings))


def _switcher_texts(window):
    box = window.recognise.gallery_view.switcher
    return [box.itemText(i) for i in range(box.count())]


def test_names_agree_and_an_import_never_repeats_a_shown_name(make_window, qtbot, app_env, tmp_path, monkeypatch):
    from app import dialogs
    from app_helpers import make_gallery

    drawings = sample_drawings()
    folder = make_gallery(app_env["data"] / "galleries" / "Old_Church_Slavonic__Cyrillic_", drawings,
                          name="Old_Church_Slavonic_(Cyrillic)")
    window = make_window()
    window.open_gallery(folder)
    wait_gallery(qtbot, window, len(drawings))
    shown = "Old_Church_Slavonic_(Cyrillic)"
    qtbot.waitUntil(lambda: _switcher_texts(window) == [shown] and not window.runner.busy, timeout=20_000)
    assert window.recognise.gallery_view.switcher.currentText() == shown
    assert window.windowTitle().startswith(shown) and shown in window.status.gallery.text()

    # Exported and imported back: the copy shows a name of its own, and the import says what it made.
    monkeypatch.setattr(dialogs, "save_file", lambda *_a: tmp_path / "copy.zip")
    window.act_export_zip.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "copy.zip").is_file() and not window.runner.busy, timeout=20_000)
    window.import_gallery(tmp_path / "copy.zip")
    qtbot.waitUntil(lambda: window.session.snapshot.path != folder and not window.runner.busy, timeout=20_000)
    copy = f"{shown} (2)"
    n = len(drawings)
    assert window.message_bar.text() == f"Imported “{copy}”: {n} characters, {n} examples."
    qtbot.waitUntil(lambda: sorted(_switcher_texts(window)) == sorted([shown, copy]), timeout=20_000)
    assert window.recognise.gallery_view.switcher.currentText() == copy
    assert window.windowTitle().startswith(copy) and f"Gallery: {copy} (" in window.status.gallery.text()
    assert window.recognise.gallery_view.title.text().startswith(copy)
    window.recent_menu.aboutToShow.emit()
    assert sorted(a.text() for a in window.recent_menu.actions()) == sorted([shown, copy])


def test_grid_labels_show_whole_names(make_window, qtbot, tmp_path):
    from engine.workspace import CharacterView, GallerySnapshot
    from app.gallery_view import GalleryView

    import numpy as np

    view = GalleryView()
    qtbot.addWidget(view)
    view.resize(330, 500)
    view.show()
    pixels = np.zeros((105, 105), np.uint8)
    pixels[30:70, 30:70] = 255
    names = ["ab", "character01", "character12"]
    for count in range(1, len(names) + 1):  # as characters are added one by one
        snapshot = GallerySnapshot(tmp_path, "Mine", tuple(CharacterView(n, (pixels,)) for n in names[:count]), "")
        view.set_snapshot(snapshot)
        metrics = view.grid.fontMetrics()
        for i in range(view.grid.count()):
            item = view.grid.item(i)
            room = view.grid.visualItemRect(item).width()
            assert room >= metrics.horizontalAdvance(item.text()) + 8, f"{item.text()!r} gets {room} px"


def test_adding_images_is_one_undoable_step(make_window, qtbot, tmp_path):
    folder, names = _alphabet_folder(tmp_path / "imgs")
    window = make_window()
    window.session.create_gallery("Mine")
    wait_gallery(qtbot, window, 0)
    _drop(window.recognise.gallery_view.grid.viewport(), sorted(folder.iterdir()))
    wait_gallery(qtbot, window, len(names))
    assert window.act_undo.text() == f"&Undo Add {len(names)} images"
    window.act_undo.trigger()
    wait_gallery(qtbot, window, 0)
    assert window.recognise.gallery_view.grid.count() == 0
    window.act_redo.trigger()
    snapshot = wait_gallery(qtbot, window, len(names))
    assert sorted(snapshot.names()) == sorted(names)


def test_a_new_gallery_named_like_one_in_use_gets_a_number(make_window, qtbot, monkeypatch):
    from app import dialogs

    window = make_window()
    names = iter(["Runes", "Runes"])
    monkeypatch.setattr(dialogs, "ask_text", lambda *_a: next(names))
    window.new_gallery()
    qtbot.waitUntil(lambda: window.session.snapshot is not None and window.session.snapshot.name == "Runes"
                    and not window.runner.busy, timeout=20_000)
    first = window.session.snapshot.path
    window.new_gallery()
    qtbot.waitUntil(lambda: window.session.snapshot.path != first and not window.runner.busy, timeout=20_000)
    assert window.session.snapshot.name == "Runes (2)"
    qtbot.waitUntil(lambda: sorted(_switcher_texts(window)) == ["Runes", "Runes (2)"], timeout=20_000)

"""The app notices another program's change of the gallery it shows (issue 23): GalleryWatch says so once per
change, and the gallery reloads to what that program saved."""

from __future__ import annotations

from engine.gallery import Gallery

from glyph_shapes import shape


def test_the_watch_reports_another_writers_change_once_and_reload_shows_it(qtbot, tmp_path):
    from app.gallery_watch import GalleryWatch

    shown = Gallery.create(tmp_path / "g", "Shown")
    shown.add_character("bar", [shape("bar")])
    watch = GalleryWatch(interval_ms=20)
    watch.watch(shown)
    assert watch.is_polling
    seen = []
    watch.disk_changed.connect(seen.append)
    assert not watch.check()

    Gallery.open(tmp_path / "g").add_character("ring", [shape("ring")])  # "the command line"
    qtbot.waitUntil(lambda: seen == [shown], timeout=5000)
    qtbot.wait(100)
    assert seen == [shown]  # said once until reloaded
    assert shown.reload() and shown.names() == ["bar", "ring"]
    assert not watch.check()

    shown.add_character("box", [shape("box")])  # its own edits are not another writer's
    assert not watch.check()
    (tmp_path / "g" / "gallery.json").rename(tmp_path / "aside.json")  # removed: said once too
    assert watch.check() and not watch.check()
    (tmp_path / "aside.json").rename(tmp_path / "g" / "gallery.json")
    assert not watch.check()  # back as it was: nothing to reload
    watch.watch(None)
    assert watch.gallery is None and not watch.is_polling and not watch.check()


def test_an_in_memory_gallery_is_not_polled(qtbot):
    from app.gallery_watch import GalleryWatch

    watch = GalleryWatch(interval_ms=20)
    watch.watch(Gallery.in_memory("Mem"))
    assert not watch.is_polling and not watch.check()


def test_the_window_shows_a_gallery_another_program_changed(make_window, qtbot):
    from app_helpers import wait_gallery

    window = make_window()
    window.session.create_gallery("Mine")
    wait_gallery(qtbot, window, 0)
    Gallery.open(window.session.snapshot.path).add_character("ring", [shape("ring")])  # "the command line"
    assert window.session.watch.check()
    snapshot = wait_gallery(qtbot, window, 1)
    assert snapshot.names() == ["ring"]
    assert "changed by another program" in window.message_bar.label.text()

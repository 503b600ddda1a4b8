"""Start the Glyphs desktop app: ``python main.py``.

Options: ``--settings-dir DIR`` keeps the settings in DIR/Glyphs.ini (like $GLYPHS_SETTINGS_DIR);
``--gallery FOLDER`` and ``--model FILE`` open those at start. The hidden ``--demo-screenshot PATH`` builds a
demo gallery, draws a character, saves a screenshot of the window to PATH and quits (for the docs).
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Return the parsed command line (unknown Qt options such as -platform are left to Qt)."""
    parser = argparse.ArgumentParser(prog="glyphs", description="Glyphs: one-shot character recognition")
    parser.add_argument("--settings-dir", help="keep the settings in this folder instead of the usual place")
    parser.add_argument("--gallery", help="open this gallery folder")
    parser.add_argument("--model", help="use this weights file (.safetensors)")
    parser.add_argument("--demo-screenshot", help=argparse.SUPPRESS)
    args, _qt_args = parser.parse_known_args(argv)
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the app; return its exit code."""
    app, _window = start(sys.argv if argv is None else argv)
    return app.exec()


def start(argv: list[str]):
    """Return (the QApplication, the shown main window) for the command line `argv` (the demo run exits here)."""
    args = parse_args(argv[1:])
    from PySide6.QtWidgets import QApplication

    app = QApplication(argv)
    app.setApplicationName("Glyphs")
    app.setOrganizationName("Glyphs")
    app.setApplicationDisplayName("Glyphs")
    if args.demo_screenshot:
        from app.demo import run_demo

        sys.exit(run_demo(app, Path(args.demo_screenshot)))  # the hidden demo run ends here

    from app.icons import app_icon
    from app.main_window import MainWindow
    from app.settings import AppSettings

    app.setWindowIcon(app_icon())
    settings = AppSettings(args.settings_dir)
    if args.gallery:
        settings.last_gallery = Path(args.gallery).resolve()
    if args.model:
        settings.last_model = Path(args.model).resolve()
    window = MainWindow(settings)
    install_excepthook(window)
    window.show()
    return app, window


def install_excepthook(window) -> None:
    """Show unexpected errors (a bug) in the window's message bar instead of losing them; keep running."""
    def hook(exc_type, exc, tb) -> None:
        traceback.print_exception(exc_type, exc, tb)
        window.show_message("error", f"Unexpected error: {exc_type.__name__}: {exc}. Glyphs keeps running; the "
                                     "details are printed in the terminal; please report them.")

    sys.excepthook = hook


if __name__ == "__main__":
    sys.exit(main())

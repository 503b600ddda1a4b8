"""Every `python -m engine ...` command the README shows runs as written: each one parses with the real
argument parser, and the gallery example (import a zip, then rank a drawing against it) runs end to end."""

from __future__ import annotations

import re
import shlex
import shutil
import zipfile
from pathlib import Path

import pytest

from engine.cli import build_parser, main
from engine.paths import REPO_ROOT

PREFIX = "python -m engine"


def readme_commands(text: str) -> list[str]:
    """Return the `python -m engine` commands of a Markdown text, from its code blocks and inline code, in
    order, each cut at a shell comment or a command separator; placeholders such as COMMAND are left out."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.S | re.M)
    lines = [line for block in blocks for line in block.splitlines()]
    lines += re.findall(r"`([^`\n]+)`", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))
    commands = []
    for line in lines:
        start = line.find(PREFIX)
        if start < 0:
            continue
        command = re.split(r"\s(?:&&|\|\||;|\|)\s", line[start:])[0]
        command = shlex.join(shlex.split(command, comments=True))
        if not re.search(r"\b[A-Z]{3,}\b", command[len(PREFIX):]):  # COMMAND, DIR: a pattern, not an example
            commands.append(command)
    return commands


README_COMMANDS = readme_commands((REPO_ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_readme_shows_commands():
    assert len(README_COMMANDS) >= 8, README_COMMANDS
    assert any(c.startswith(f"{PREFIX} gallery import") for c in README_COMMANDS)


@pytest.mark.parametrize("command", README_COMMANDS)
def test_each_readme_command_parses(command):
    argv = shlex.split(command)[3:]
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse's way of refusing: "unrecognized arguments: --dest" and the like
        pytest.fail(f"the README's `{command}` does not parse (exit {exc.code})")
    assert callable(args.func)


def test_the_readme_gallery_example_runs_as_written(synthetic_omniglot, tmp_path, monkeypatch, capsys):
    """Import the README's zip into the README's folder, then rank the README's drawing against it."""
    steps = [c for c in README_COMMANDS if c.startswith((f"{PREFIX} gallery import ", f"{PREFIX} rank "))]
    assert [s.split()[3] for s in steps] == ["gallery", "rank"], steps
    monkeypatch.chdir(tmp_path)
    alphabet = synthetic_omniglot.folder("evaluation") / synthetic_omniglot.alphabets["evaluation"][0]
    drawing = next(alphabet.glob("character01/*.png"))
    for command in steps:
        argv = shlex.split(command)[3:]
        for name in argv:
            if name.endswith(".zip") and not Path(name).exists():
                with zipfile.ZipFile(name, "w") as zf:  # a folder of character folders, zipped
                    for png in sorted(alphabet.rglob("*.png")):
                        zf.write(png, png.relative_to(alphabet.parent).as_posix())
            elif name.endswith(".png") and not Path(name).exists():
                shutil.copy(drawing, name)
        assert main([*argv, "--quiet"]) == 0, f"`{command}` failed: {capsys.readouterr().err}"
    ranked = capsys.readouterr().out.strip().splitlines()[-1]  # "drawing.png: character01 0.998, ..."
    assert ranked.split(": ", 1)[1].startswith("character01 "), ranked  # the drawing's own character first


def _installed(family: str) -> bool:
    from engine.fonts.files import find_installed

    return find_installed(family) is not None


FONT_COMMANDS = [c for c in README_COMMANDS if c.startswith(f"{PREFIX} gallery import-font ")]


def test_the_readme_font_examples_run_as_written_with_the_installed_fonts(tmp_path, monkeypatch, capsys):
    """The README's import-font commands, in order, against the installed DejaVu fonts they name (skipped where
    those are not installed): each exits 0, and a folder imported into twice has two examples of each character."""
    from collections import Counter

    from engine.gallery import Gallery

    assert len(FONT_COMMANDS) >= 3, FONT_COMMANDS
    argvs = [shlex.split(c)[3:] for c in FONT_COMMANDS]  # gallery import-font FONT [DEST] ...
    missing = sorted({a[2] for a in argvs if not _installed(a[2])})
    if missing:
        pytest.skip(f"fonts the README's examples use are not installed: {', '.join(missing)}")
    monkeypatch.chdir(tmp_path)
    for command, argv in zip(FONT_COMMANDS, argvs):
        assert main([*argv, "--quiet"]) == 0, f"`{command}` failed: {capsys.readouterr().err}"
    imports = Counter(a[3] for a in argvs if len(a) > 3 and not a[3].startswith("-"))
    assert imports and max(imports.values()) == 2, imports  # the "2nd example each" step
    for folder, n in imports.items():
        gallery = Gallery.open(tmp_path / folder)
        assert len(gallery) > 0 and all(len(ch.references) == n for ch in gallery.characters), folder

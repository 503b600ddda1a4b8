"""Issue 23's gallery faults, each run for real and judged: was it handled (no traceback, a message naming the
file, nothing changed that should not be), and how much was lost (adds reported done but missing, or the
user's files deleted).

    python benchmarks/bench_faults.py [--json] [--only NAME ...]

Cases: two processes adding 20 characters each to one gallery (kept open / reopened before each add); two
`gallery import-font` runs at once into one gallery and into one new folder (DejaVu Sans, Cyrillic and Greek,
when installed); a writer's first edit while another has written a PNG it has not indexed yet; `rank` on a
gallery whose `.embeddings` links to the user's folder; a 4 GB file named x.png in a folder import and a
2 MB embedding cache that unpacks to 2.6 GB (peak memory of the process); a reference PNG replaced by hand;
two imports racing into one new folder; a file name with invalid UTF-8 bytes; a lone surrogate in an index
name; names too long or empty; a 5 MB path in an index; terminal escapes and a 20 MB name in `gallery list`.
The checkpoint cases of the issue (4, 5, 8, 15) are engine/train's and measured there.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.gallery import Gallery, GalleryError, import_gallery  # noqa: E402
from engine.gallery.files import encode_png  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def glyph(k: int) -> np.ndarray:
    """Return a distinct binary (105, 105) glyph for each k: two bars placed by k."""
    g = np.zeros((105, 105), np.float32)
    g[10 + k % 80:20 + k % 80, 10:95] = 1
    g[10:95, 10 + (7 * k) % 80:20 + (7 * k) % 80] = 1
    return g


def cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], capture_output=True, text=True, env=ENV,
                          cwd=REPO, timeout=timeout)


def clean(*runs: subprocess.CompletedProcess) -> bool:
    return all("Traceback" not in r.stderr for r in runs)


# ----------------------------------------------------------------------------------------------- writers

ADDER = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {repo!r})
    sys.path.insert(0, {bench!r})
    from bench_faults import glyph
    from engine.gallery import Gallery
    path, prefix, reopen, go = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
    g = Gallery.open(path)
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)
    for i in range(20):
        if reopen:
            g = Gallery.open(path)
        g.add_character(f"{{prefix}}{{i}}", [glyph(i + (40 if prefix == "b" else 0))])
        print(f"done {{prefix}}{{i}}", flush=True)
""")


def two_adders(tmp: Path, reopen: bool) -> tuple[bool, int, str]:
    Gallery.create(tmp / "g", "Shared")
    script = ADDER.format(repo=str(REPO), bench=str(REPO / "benchmarks"))
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp / "g"), p, "1" if reopen else "0", str(tmp / "go")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for p in "ab"]
    for p in procs:
        p.stdout.readline()
    (tmp / "go").touch()
    done, ok = [], True
    for p in procs:
        out, err = p.communicate(timeout=600)
        ok &= p.returncode == 0 and "Traceback" not in err
        done += [line.split()[1] for line in out.splitlines() if line.startswith("done ")]
    names = set(Gallery.open(tmp / "g").names())
    lost = len(set(done) - names)
    return ok and lost == 0, lost, f"{len(done)} adds reported done, {len(names)} in the gallery"


def adders_kept_open(tmp: Path) -> tuple[bool, int, str]:
    return two_adders(tmp, reopen=False)


def adders_reopening(tmp: Path) -> tuple[bool, int, str]:
    return two_adders(tmp, reopen=True)


def installed_dejavu() -> Path | None:
    from engine.fonts.files import find_installed

    found = find_installed("DejaVu Sans")
    return found.path if found is not None else None


def two_font_imports(tmp: Path, new: bool) -> tuple[bool, int, str]:
    font = installed_dejavu()
    if font is None:
        return True, 0, "skipped: DejaVu Sans is not installed"
    dest = tmp / "letters"
    if not new:
        Gallery.create(dest, "Letters")
    blocks = ("Cyrillic", "Greek and Coptic")
    procs = [subprocess.Popen([sys.executable, "-m", "engine", "gallery", "import-font", str(font), str(dest),
                               "--block", b, "--quiet", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=ENV, cwd=REPO) for b in blocks]
    outs = [(p, *p.communicate(timeout=600)) for p in procs]
    names = set(Gallery.open(dest).names())
    lost, ok, said = 0, True, []
    for block, (p, out, err) in zip(blocks, outs):
        ok &= "Traceback" not in err
        if p.returncode == 0:
            alone = cli("gallery", "import-font", str(font), "--list-blocks", "--json")
            n = json.loads(alone.stdout.splitlines()[-1])["blocks"].get(block, 0)
            added = json.loads(out.splitlines()[-1])["added_characters"]
            said.append(f"{block}: {added} of {n} added")
        else:
            ok &= str(dest) in err
            said.append(f"{block}: refused ({err.strip()[:60]}...)")
    total = sum(1 for c in names)
    expected = sum(int(s.split(": ")[1].split(" of ")[0]) for s in said if " added" in s)
    lost = max(0, expected - total)
    return ok and lost == 0, lost, "; ".join(said) + f"; {total} characters in the gallery"


def font_imports_existing(tmp: Path) -> tuple[bool, int, str]:
    return two_font_imports(tmp, new=False)


def font_imports_new_folder(tmp: Path) -> tuple[bool, int, str]:
    return two_font_imports(tmp, new=True)


def sweep_spares_pending_png(tmp: Path) -> tuple[bool, int, str]:
    g = Gallery.create(tmp / "g", "G")
    g.add_character("bar", [glyph(1)])
    pending = tmp / "g" / "images" / "ring-1.png"  # another writer's PNG, not indexed yet
    pending.write_bytes(encode_png(glyph(2)))
    later = (tmp / "g" / "gallery.json").stat().st_mtime + 1
    os.utime(pending, (later, later))
    Gallery.open(tmp / "g").add_character("box", [glyph(3)])  # first edit: sweeps
    kept = pending.is_file()
    return kept, 0 if kept else 1, "the pending PNG " + ("was kept" if kept else "was deleted")


# ------------------------------------------------------------------------------------------ links, bounds


def embeddings_link(tmp: Path) -> tuple[bool, int, str]:
    g = Gallery.create(tmp / "g", "G")
    for k in range(3):
        g.add_character(f"c{k}", [glyph(k)])
    mine = tmp / "mine"
    mine.mkdir()
    for i in range(5):
        np.savez(mine / f"{i:040x}.npz", x=np.arange(3))
    (tmp / "g" / ".embeddings").symlink_to(mine, target_is_directory=True)
    (tmp / "q.png").write_bytes(encode_png(glyph(1)))
    r = cli("rank", "--gallery", str(tmp / "g"), "--device", "cpu", "--quiet", str(tmp / "q.png"))
    left = len(list(mine.glob("*.npz")))
    return r.returncode == 0 and clean(r) and left == 5, 5 - left, f"{left} of 5 files behind the link remain"


PEAK = textwrap.dedent("""
    import resource, sys, time, warnings
    sys.path.insert(0, {repo!r})
    from engine.gallery import GalleryError, import_gallery
    from engine.gallery.cache import read_embeddings
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    what = sys.argv[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if what == "import":
                import_gallery(sys.argv[2], None)
                outcome = "imported"
            else:
                keys, _ = read_embeddings(__import__("pathlib").Path(sys.argv[2]), "f" * 40, 512)
                outcome = f"{{len(keys)}} keys; " + "; ".join(str(w.message)[-70:] for w in caught)
        except GalleryError as exc:
            outcome = "refused: " + str(exc).rsplit("/", 1)[-1][:100]
    seconds = time.perf_counter() - start
    print(f"{{seconds:.3f}} {{(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024:.0f}} {{outcome}}")
""")


def peak(*args: str) -> tuple[float, float, str]:
    r = subprocess.run([sys.executable, "-c", PEAK.format(repo=str(REPO)), *args], capture_output=True, text=True,
                       timeout=600)
    if r.returncode != 0:
        return 0.0, 0.0, "crashed: " + r.stderr.strip().splitlines()[-1]
    seconds, mb, outcome = r.stdout.strip().split(" ", 2)
    return float(seconds), float(mb), outcome


def huge_file_in_folder(tmp: Path) -> tuple[bool, int, str]:
    folder = tmp / "alphabet"
    folder.mkdir()
    (folder / "a.png").write_bytes(encode_png(glyph(1)))
    with open(folder / "x.png", "wb") as f:
        f.truncate(4 << 30)  # sparse: 4 GB that take no disk
    seconds, mb, outcome = peak("import", str(folder))
    ok = outcome.startswith("refused") and "x.png" in outcome and mb < 200
    return ok, 0, f"{seconds * 1000:.0f} ms, +{mb:.0f} MB peak; {outcome[:80]}"


def cache_bomb(tmp: Path) -> tuple[bool, int, str]:
    path = tmp / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        # Valid small members first (read first by the cache), then embeddings that unpack to 2.6 GB.
        for name, value in (("version", np.asarray(1)), ("fingerprint", np.asarray("f" * 40)),
                            ("keys", np.asarray(["k"], dtype="U64"))):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, value)
            zf.writestr(f"{name}.npy", buf.getvalue())
        with zf.open("embeddings.npy", "w", force_zip64=True) as f:
            n = (2600 << 20) // 4
            buf = io.BytesIO()
            np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (n // 512, 512)})
            f.write(buf.getvalue())
            zeros = bytes(64 << 20)
            for _ in range((2600 << 20) // len(zeros)):
                f.write(zeros)
    seconds, mb, outcome = peak("cache", str(path))
    ok = outcome.startswith("0 keys") and mb < 200
    return ok, 0, f"{path.stat().st_size / 1e6:.1f} MB file: {seconds * 1000:.0f} ms, +{mb:.0f} MB peak; {outcome[8:80]}"


def replaced_png(tmp: Path) -> tuple[bool, int, str]:
    from engine.recognition.recognize import Recognizer
    from engine.weights import load_weights

    g = Gallery.create(tmp / "g", "G")
    for k in range(4):
        g.add_character(f"c{k}", [glyph(k * 9)])
    loaded = load_weights()
    Recognizer(loaded, Gallery.open(tmp / "g")).refresh()
    file = tmp / "g" / g.character("c1").references[0].file
    file.write_bytes(encode_png(glyph(50)))
    later = (tmp / "g" / "gallery.json").stat().st_mtime + 1
    os.utime(file, (later, later))
    rec = Recognizer(loaded, Gallery.open(tmp / "g"))
    rec.refresh()
    top = rec.rank(glyph(50)).matches[0].name
    ok = rec.embedded_count == 1 and top == "c1"
    return ok, 0, f"re-embedded {rec.embedded_count} reference(s); a query of the new image ranks {top} first"


# ------------------------------------------------------------------------------------------------ messages


def racing_imports(tmp: Path) -> tuple[bool, int, str]:
    from engine.gallery import importing

    src = tmp / "src"
    src.mkdir()
    (src / "a.png").write_bytes(encode_png(glyph(1)))
    real = importing._Sink.finish

    def after_the_other(self, name, characters, cancel):
        if name == "Loser":
            import_gallery(src, tmp / "new", name="Winner")
        return real(self, name, characters, cancel)

    importing._Sink.finish = after_the_other
    try:
        import_gallery(src, tmp / "new", name="Loser")
        return False, 0, "both succeeded?"
    except GalleryError as exc:
        msg = str(exc)
    finally:
        importing._Sink.finish = real
    ok = str(tmp / "new") in msg and "Errno" not in msg and Gallery.open(tmp / "new").name == "Winner"
    return ok, 0, msg[len(str(tmp)) + 1:][:90]


def invalid_utf8_name(tmp: Path) -> tuple[bool, int, str]:
    folder = tmp / "alphabet"
    folder.mkdir()
    (folder / "a.png").write_bytes(encode_png(glyph(1)))
    with open(os.fsencode(folder) + b"/caf\xe9.png", "wb") as f:
        f.write(encode_png(glyph(2)))
    r = cli("gallery", "import", str(folder), str(tmp / "g"), "--quiet")
    g = Gallery.open(tmp / "g")
    g.add_character("more", [glyph(3)])
    ok = r.returncode == 0 and clean(r) and "caf\ufffd" in Gallery.open(tmp / "g").names()
    return ok, 0, f"imported as {sorted(Gallery.open(tmp / 'g').names())!r}; the gallery stays editable"


def surrogate_in_index(tmp: Path) -> tuple[bool, int, str]:
    g = Gallery.create(tmp / "g", "G")
    g.add_character("ring", [glyph(1)])
    data = json.loads((tmp / "g" / "gallery.json").read_text())
    data["characters"][0]["name"] = "ri\ud800ng"
    (tmp / "g" / "gallery.json").write_text(json.dumps(data))
    opened = Gallery.open(tmp / "g")
    opened.add_character("box", [glyph(2)])
    r = cli("gallery", "list", str(tmp / "g"))
    ok = clean(r) and r.returncode == 0 and Gallery.open(tmp / "g").names() == ["ri\ufffdng", "box"]
    return ok, 0, (opened.warnings or ["no note"])[0][len(str(tmp)) + 1:][:90]


def bad_names(tmp: Path) -> tuple[bool, int, str]:
    folder = tmp / "alphabet"
    folder.mkdir()
    for k, name in enumerate(["a", "b", "x" * 240, "  "]):
        (folder / f"{name}.png").write_bytes(encode_png(glyph(k)))
    r = cli("gallery", "import", str(folder), str(tmp / "g"), "--quiet")
    names = Gallery.open(tmp / "g").names() if (tmp / "g").exists() else []
    ok = r.returncode == 0 and clean(r) and names == ["a", "b"] and "2 file(s) skipped" in r.stderr
    return ok, 0, f"imported {len(names)}, " + r.stderr.strip().splitlines()[-1].strip()


def long_index_path(tmp: Path) -> tuple[bool, int, str]:
    g = Gallery.create(tmp / "g", "G")
    g.add_character("ring", [glyph(1)])
    data = json.loads((tmp / "g" / "gallery.json").read_text())
    data["characters"][0]["references"][0]["file"] = "images/" + "a" * 5_000_000 + ".png"
    (tmp / "g" / "gallery.json").write_text(json.dumps(data))
    r = cli("gallery", "list", str(tmp / "g"))
    ok = r.returncode == 1 and clean(r) and "gallery.json" in r.stderr and len(r.stderr) < 1000
    return ok, 0, f"{len(r.stderr)}-character message"


def list_escapes(tmp: Path) -> tuple[bool, int, str]:
    g = Gallery.create(tmp / "g", "G")
    g.add_character("ring", [glyph(1)])
    data = json.loads((tmp / "g" / "gallery.json").read_text())
    data["name"] = "\x1b[2J\x1b]0;title\x07" + "N" * 20_000_000
    (tmp / "g" / "gallery.json").write_text(json.dumps(data))
    r = cli("gallery", "list", str(tmp / "g"))
    ok = r.returncode == 0 and clean(r) and "\x1b" not in r.stdout and len(r.stdout) < 1000
    return ok, 0, f"{len(r.stdout)} characters printed: {r.stdout.splitlines()[0][:40]}..."


CASES: dict[str, tuple[str, Callable[[Path], tuple[bool, int, str]]]] = {
    "adders-open": ("1: two processes x 20 adds, kept open", adders_kept_open),
    "adders-reopen": ("1: two processes x 20 adds, reopened", adders_reopening),
    "fonts-existing": ("1: two import-font runs, one gallery", font_imports_existing),
    "fonts-new": ("1: two import-font runs, new folder", font_imports_new_folder),
    "sweep": ("2: sweep vs another writer's new PNG", sweep_spares_pending_png),
    "link": ("3: rank with .embeddings a link", embeddings_link),
    "huge-file": ("6: 4 GB x.png in a folder import", huge_file_in_folder),
    "cache-bomb": ("7: cache .npz unpacking to 2.6 GB", cache_bomb),
    "replaced": ("9: reference PNG replaced by hand", replaced_png),
    "race": ("10: two imports into one new folder", racing_imports),
    "utf8": ("11: invalid UTF-8 in a file name", invalid_utf8_name),
    "surrogate": ("11: lone surrogate in an index name", surrogate_in_index),
    "names": ("12: names too long / empty", bad_names),
    "long-path": ("13: 5 MB path in the index", long_index_path),
    "escapes": ("14: escapes + 20 MB name in list", list_escapes),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run only these cases")
    args = parser.parse_args()
    rows = {}
    print(f"{'case':<42} {'handled':<8} {'lost':>4}  {'seconds':>7}  note")
    for key in args.only or CASES:
        label, run = CASES[key]
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            try:
                handled, lost, note = run(Path(tmp))
            except Exception as exc:  # a case that crashes is not handled: say how
                handled, lost, note = False, 0, f"{type(exc).__name__}: {str(exc)[:80]}"
        seconds = time.perf_counter() - start
        rows[key] = {"case": label, "handled": handled, "lost": lost, "seconds": round(seconds, 2), "note": note}
        print(f"{label:<42} {'yes' if handled else 'NO':<8} {lost:>4}  {seconds:7.1f}  {note}", flush=True)
    print(f"{sum(r['handled'] for r in rows.values())} of {len(rows)} handled, "
          f"{sum(r['lost'] for r in rows.values())} lost; load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    if args.json:
        print(json.dumps(rows))


if __name__ == "__main__":
    main()

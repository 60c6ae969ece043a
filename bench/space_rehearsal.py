"""A Hugging Face Space rehearsal on this machine: what a Space does on a fresh machine, timed. Loopback only.

    python bench/space_rehearsal.py              # prints its figures; exit status 1 on any failure
    python bench/space_rehearsal.py --keep       # keep the temporary folders (the printed paths) for a look

1. a new virtualenv (``python3.11 -m venv``) with ``pip install -r requirements.txt`` and nothing else, in
   ``~/.cache/ganlab/space-rehearsal/venv-<hash>`` keyed by requirements.txt's and Python's version: a second
   run reuses it (and says so) while requirements.txt is unchanged;
2. a fresh folder holding exactly what ``python -m ganlab deploy USER/NAME --dry-run`` lists
   (``ganlab.deploy.space_files``) for a clean checkout of HEAD (``--ref``; ``--work-tree`` for the work tree
   as it is), so a file the app needs but the allow-list misses fails here;
3. ``python app.py`` there, as a Space starts it: ``GRADIO_SERVER_NAME=0.0.0.0``, port 7860 (a free port if
   7860 is taken, said so), a fresh ``HF_HOME``, and ``GANLAB_PRELOAD`` naming URLs on a local threaded
   http.server (127.0.0.1, random port) that serves ``../shared/fixtures`` (at 1 MB/s by default, so that the
   page is up before the last preload is ready, as on a Space): the real download and conversion;
4. headless Chromium (Playwright, Debian's ``chromium``) opens the page, waits until the last preload is
   selectable in the model picker (without reloading the page), picks it, presses Generate and checks that a
   new image appears and is that model's (the settings the PNG carries name it and the seed); a screenshot goes to
   ``rehearsal.png`` in ``--screenshots`` (default: the current folder; ``rehearsal-failed.png`` on a failure);
5. it prints the time from the app's start to the page answering, to each preload being ready (its marker
   file written by ``ganlab.preload``) and to the first generated image, and the app process's RSS and peak RSS
   (VmHWM) after that; then it stops the browser, the app and the file server.

Not part of the pytest suite: it needs Chromium, pip and a few minutes (the first run builds the virtualenv).
"""
from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urljoin

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import children, free_port, rss_bytes, wait_for
from tests.http_fixtures import serve
from ganlab.deploy import check_space_config, listing, space_files
from ganlab.preload import model_name

FIXTURES = ROOT.parent / "shared" / "fixtures"
PRELOAD = ("stylegan2-ada/rgb32.pkl", "pgan-zoo/pgan32.pth", "dcgan-tutorial/gan_face_generate-1.1.1-py3-none-any.whl")
VENVS = Path.home() / ".cache" / "ganlab" / "space-rehearsal"
SPACE_PORT = 7860
PYTHON = "python3.11"                         # the README front matter's python_version
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
RATE = 1.0                                    # MB/s per download from the fixture server: a Space's downloads
                                              # take a while, so the page is up before the last preload is ready
TIMEOUT = 600                                 # seconds for the page, the preloads and the first image
VERSIONS = "import torch, gradio, huggingface_hub as h; print(torch.__version__, gradio.__version__, h.__version__)"
SEED = 7                                      # the browser generates this seed with the picked model
NEW_IMAGE = """s => { const i = document.querySelector('#generated img');
                      return i && i.src && i.src !== s && i.complete && i.naturalWidth > 0; }"""


class RehearsalError(RuntimeError):
    """A step of the rehearsal failed; the message says which and why."""


def say(msg: str = "") -> None:
    print(msg, flush=True)


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


# -- 1. the virtualenv -----------------------------------------------------------------------------------------
def venv_key(requirements: Path) -> str:
    py = subprocess.run([PYTHON, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                        check=True).stdout
    return hashlib.sha256(requirements.read_bytes() + py.encode()).hexdigest()[:16]


def make_venv(requirements: Path) -> tuple[Path, bool, float]:
    """(the venv's python, whether it was reused, seconds taken). A venv counts as built only once pip succeeded
    (its ``.complete`` marker); a half-built one is removed and built again. Older venvs are removed."""
    t = time.perf_counter()
    folder = VENVS / f"venv-{venv_key(requirements)}"
    python = folder / "bin" / "python"
    if (folder / ".complete").is_file() and python.exists():
        return python, True, time.perf_counter() - t
    VENVS.mkdir(parents=True, exist_ok=True)
    for old in VENVS.glob("venv-*"):                   # other requirements' venvs (a few GB each): gone
        shutil.rmtree(old, ignore_errors=True)
    subprocess.run([PYTHON, "-m", "venv", str(folder)], check=True)
    log = folder / "pip-install.log"
    with open(log, "w") as out:
        r = subprocess.run([str(python), "-m", "pip", "install", "-r", str(requirements)], stdout=out,
                           stderr=subprocess.STDOUT, env=_clean_env(), check=False)
    if r.returncode:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        raise RehearsalError("pip install -r requirements.txt failed:\n    " + "\n    ".join(tail))
    (folder / ".complete").write_text(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return python, False, time.perf_counter() - t


def _clean_env(**extra) -> dict:
    """This process's environment without anything that would leak this project's Python into the Space's."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "VIRTUAL_ENV", "GANLAB_", "HF_", "HUGGINGFACE_", "GRADIO_", "CONDA"))}
    env.update(extra)
    return env


# -- 2. the Space's files --------------------------------------------------------------------------------------
def checkout(ref: str, dest: Path) -> str:
    """The repository at ``ref`` (git archive) in ``dest``: what a clone of main holds, without the work tree's
    uncommitted changes (others edit it concurrently). Returns the commit."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", ref], capture_output=True, text=True,
                            check=True).stdout.strip()
    dest.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(dest)], stdin=archive.stdout, check=True)
    if archive.wait():
        raise RehearsalError(f"git archive {ref} failed")
    return commit


def stage(source: Path, dest: Path) -> tuple[int, int]:
    """Copy the deploy allow-list of ``source`` into ``dest``; (files, bytes)."""
    files = space_files(source)
    for f in files:
        (dest / f.path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / f.path, dest / f.path)
    check_space_config(dest)
    return len(files), sum(f.size for f in files)


# -- 3. the fixture server and the app -------------------------------------------------------------------------
@contextlib.contextmanager
def fixture_server(folder: Path, rate: float = 0):
    """The tests' fixture server (threaded, 127.0.0.1, random port) serving ``folder``, at most ``rate`` MB/s per
    response (0: unthrottled); yields its base URL."""
    with serve(folder) as server:
        server.rate = rate
        yield server.url("")


def space_port() -> tuple[int, str]:
    """7860 when it is free on 0.0.0.0, else a free port; (port, a note)."""
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", SPACE_PORT))
            return SPACE_PORT, f"port {SPACE_PORT} (a Space's)"
        except OSError:
            pass
    port = free_port()
    return port, f"port {port}: {SPACE_PORT} is busy on this machine, so a free port instead"


def stop(proc: subprocess.Popen, timeout: float = 15) -> str:
    """SIGINT (as Ctrl-C, which Gradio handles), then SIGTERM, then SIGKILL; how it ended."""
    if proc.poll() is not None:
        return f"had exited with {proc.returncode}"
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        proc.send_signal(sig)
        try:
            proc.wait(wait)
            return f"stopped by {sig.name} (exit {proc.returncode})"
        except subprocess.TimeoutExpired:
            continue
    return "did not stop"


class Watch(threading.Thread):
    """Polls, from the app's start, for preload markers appearing under HF_HOME (``ganlab.preload`` writes one when
    a model is converted and in place) and preload failures in the app's log; the time each was first seen."""

    def __init__(self, hf_home: Path, log: Path, names: list[str], t0: float, every: float = 0.2):
        super().__init__(name="rehearsal-watch", daemon=True)
        self.hf_home, self.log, self.names, self.t0, self.every = hf_home, log, names, t0, every
        self.ready: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.halt = threading.Event()

    def poll(self) -> None:
        for marker in self.hf_home.rglob(".preload/*.json"):
            if marker.stem not in self.ready:
                self.ready[marker.stem] = time.perf_counter() - self.t0
        with contextlib.suppress(OSError):
            text = self.log.read_text(errors="replace")
        for line in locals().get("text", "").splitlines():
            if line.startswith("preload ") and " failed: " in line:
                source, reason = line[len("preload "):].split(" failed: ", 1)
                self.failed.setdefault(source, reason)

    def run(self) -> None:
        while not self.halt.wait(self.every):
            self.poll()

    def failed_name(self, name: str) -> str | None:
        return next((f"{s}: {r}" for s, r in self.failed.items() if model_name(s) == name), None)

    def done(self) -> bool:
        return all(n in self.ready or self.failed_name(n) for n in self.names)


# -- 4. the browser ---------------------------------------------------------------------------------------------
def open_picker(page) -> list[str]:
    """Open the model picker's list and return its choices' labels as the page shows them (the list stays open)."""
    page.locator("#model-picker input").click()
    options = page.locator("#model-picker [role=option]")
    with contextlib.suppress(Exception):
        options.first.wait_for(timeout=3000)
    return [o.get_attribute("aria-label") or o.inner_text().strip() for o in options.all()]


def close_picker(page) -> None:
    page.keyboard.press("Escape")
    page.locator("#model-picker input").blur()


def browse(url: str, name: str, watch: Watch, t0: float, deadline: float, figures: dict, notes: list,
           shots: Path) -> dict:
    """Open the page, wait for ``name`` in the picker, pick it, generate; returns what the image says."""
    from PIL import Image
    from playwright.sync_api import sync_playwright
    chromium = shutil.which("chromium")
    if not chromium:
        raise RehearsalError("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(120_000)
        try:
            page.goto(url)
            page.locator("#model-picker input").wait_for()
            first = page.locator("#generated img")
            first.wait_for()                                   # the page load draws the first bundled model
            figures["first page image"] = time.perf_counter() - t0
            step = "waiting for the preloaded model in the model picker"
            label, seen, looks = None, [], 0
            while label is None:
                if watch.failed_name(name):
                    raise RehearsalError(f"the preload failed: {watch.failed_name(name)}")
                if time.perf_counter() > deadline:
                    state = "its marker is written (the preload is ready)" if name in watch.ready else \
                        "its preload is not ready either"
                    page.reload()                                # a diagnosis: does a reload list it?
                    page.locator("#generated img").wait_for()
                    after = open_picker(page)
                    reload = "lists it" if any(o.endswith(f" · {name}") or o == name for o in after) else \
                        "does not list it either"
                    raise RehearsalError(f"{name} never became selectable in the model picker without a page "
                                         f"reload ({state}); the picker shows: {seen}; after a page reload the "
                                         f"picker {reload}")
                seen = open_picker(page)
                looks += 1
                label = next((o for o in seen if o.endswith(f" · {name}") or o == name), None)
                if label is None:
                    close_picker(page)
                    time.sleep(1)
            figures[f"{name} selectable in the picker"] = time.perf_counter() - t0
            notes.append(f"the picker listed {name} " + ("at the first look (its preload was ready when the page "
                         "loaded)" if looks == 1 else f"after {looks} looks, without a page reload"))
            step = "picking it"
            before = page.locator("#generated img").get_attribute("src")
            page.locator(f"#model-picker [role=option][aria-label='{label}']").click()
            page.wait_for_function(NEW_IMAGE, arg=before)      # picking a model draws its default view
            step = "generating (seed 7, Generate)"
            before = page.locator("#generated img").get_attribute("src")
            page.locator("input[type=number][aria-label^='seed']").fill(str(SEED))
            page.get_by_role("button", name="Generate", exact=True).click()
            page.wait_for_function(NEW_IMAGE, arg=before)
            figures["first generated image"] = time.perf_counter() - t0
            response = page.request.get(urljoin(url, page.locator("#generated img").get_attribute("src")))
            if not response.ok:
                raise RehearsalError(f"the generated image could not be fetched ({response.status})")
            body = response.body()
            settings = json.loads(Image.open(io.BytesIO(body)).info.get("ganlab", "{}"))
            page.screenshot(path=str(shots / "rehearsal.png"), full_page=False)
            return {"png": body, "settings": settings}
        except Exception as e:
            with contextlib.suppress(Exception):
                page.screenshot(path=str(shots / "rehearsal-failed.png"), full_page=True)
            if isinstance(e, RehearsalError):
                raise
            raise RehearsalError(f"browser, {locals().get('step', 'opening the page')}: "
                                 f"{type(e).__name__}: {str(e).splitlines()[0]}") from e
        finally:
            browser.close()


# -- the run ----------------------------------------------------------------------------------------------------
def run(args) -> int:
    from PIL import Image
    t_all = time.perf_counter()
    shots = Path(args.screenshots)
    (shots / "rehearsal-failed.png").unlink(missing_ok=True)
    say("== Space rehearsal (loopback only) ==")
    tmp = Path(tempfile.mkdtemp(prefix="ganlab-space-"))
    proc = watch = None
    figures: dict[str, float] = {}           # what happened when, in seconds from `python app.py`
    notes: list[str] = []
    code = 1
    try:
        space, hf_home = tmp / "space", tmp / "hf_home"
        space.mkdir()
        hf_home.mkdir()
        if args.work_tree:
            source, what = ROOT, f"the work tree {ROOT} (with uncommitted changes)"
        else:
            source = tmp / "checkout"
            what = f"{args.ref} = {checkout(args.ref, source)} (git archive)"
        n, size = stage(source, space)
        say(f"Space files: {n} files, {size / 1e6:,.2f} MB: the deploy allow-list of {what}, copied into {space}")
        python, reused, secs = make_venv(space / "requirements.txt")
        say(f"virtualenv: {python.parent.parent} — {'REUSED (requirements.txt unchanged)' if reused else 'NEW'}"
            f", {secs:.1f} s{'' if reused else ' (python3.11 -m venv + pip install -r requirements.txt)'}")
        versions = subprocess.run([str(python), "-c", VERSIONS], capture_output=True, text=True,
                                  check=True).stdout.split()
        du = subprocess.run(["du", "-sm", str(python.parent.parent)], capture_output=True, text=True,
                            check=False).stdout.split()
        say(f"  torch {versions[0]}, gradio {versions[1]}, huggingface_hub {versions[2]}; "
            f"{int(du[0]) / 1024 if du else float('nan'):.1f} GiB on disk")
        if args.list:
            say(listing(space_files(source)))
        port, port_note = space_port()
        say(f"app: {port_note}")
        with fixture_server(FIXTURES, args.rate) as base:
            sources = [urljoin(base, p) for p in args.preload]
            names = [model_name(s) for s in sources]
            say(f"GANLAB_PRELOAD: {', '.join(sources)}"
                + (f" (served at {args.rate:g} MB/s)" if args.rate else " (served unthrottled)"))
            say(f"  model names: {', '.join(names)}")
            env = _clean_env(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port), HF_HOME=str(hf_home),
                             GANLAB_PRELOAD=",".join(sources), PYTHONUNBUFFERED="1",
                             PATH=f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}")
            log = tmp / "app.log"
            t0 = time.perf_counter()
            with open(log, "w") as out:
                proc = subprocess.Popen([str(python), "app.py"], cwd=space, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            watch = Watch(hf_home, log, names, t0)
            watch.start()
            url = f"http://127.0.0.1:{port}/"
            try:
                wait_for(url, proc, timeout=args.timeout)
            except (RuntimeError, TimeoutError) as e:
                raise RehearsalError(f"the page never answered ({e})") from None
            figures["page up (GET / answers)"] = time.perf_counter() - t0
            pick = names[args.pick]
            result = browse(url, pick, watch, t0, t0 + args.timeout, figures, notes, shots)
            settled = time.perf_counter() + args.timeout
            while not watch.done() and time.perf_counter() < settled and proc.poll() is None:
                time.sleep(0.5)
            watch.halt.set()
            watch.poll()
            rss, peak = rss_bytes(proc.pid), _hwm(proc.pid)
            kids = [(_cmd(pid), rss_bytes(pid)) for pid in children(proc.pid)]

            missing = print_times(figures, watch, notes)
            img = Image.open(io.BytesIO(result["png"]))
            say(f"  image: {img.size[0]}x{img.size[1]} {img.mode} PNG; the settings it carries say model "
                f"{result['settings'].get('model')!r}, seed {result['settings'].get('seed')!r}; "
                f"screenshot {shots / 'rehearsal.png'}")
            kid_text = ", ".join(f"{c} {mb(r)}" for c, r in kids)
            say(f"  app RSS after the first image, every preload converted: {mb(rss)} (peak {mb(peak)})"
                + (f"; its {len(kids)} child process(es): {kid_text}" if kids else ""))
            if (result["settings"].get("model"), result["settings"].get("seed")) != (pick, SEED):
                raise RehearsalError(f"the generated PNG's settings say model {result['settings'].get('model')!r}, "
                                     f"seed {result['settings'].get('seed')!r}, not {pick!r}, {SEED}")
            if watch.failed or missing:
                raise RehearsalError("not every preload became ready")
            code = 0
    except RehearsalError as e:
        if watch is not None and not figures.get("first generated image"):
            watch.poll()
            print_times(figures, watch, notes, "so far")
            if proc.poll() is None:
                say(f"  app RSS now: {mb(rss_bytes(proc.pid))} (peak {mb(_hwm(proc.pid))})")
        say(f"\nREHEARSAL FAILED: {e}")
        if proc is not None:
            say("last lines of the app's output:")
            for line in (tmp / "app.log").read_text(errors="replace").splitlines()[-25:]:
                say(f"    {line}")
        if (shots / "rehearsal-failed.png").exists():
            say(f"screenshot: {shots / 'rehearsal-failed.png'}")
    finally:
        if watch is not None:
            watch.halt.set()
            watch.join()
        if proc is not None:
            say(f"app: {stop(proc)}")
        if args.keep:
            say(f"kept: {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        say(f"total rehearsal time {time.perf_counter() - t_all:.1f} s")
    return code


def print_times(figures: dict, watch: Watch, notes: list, what: str = "") -> list[str]:
    """The figures and the preloads' readiness in time order; returns the preloads neither ready nor failed."""
    say("")
    say(f"== figures {what + ' ' if what else ''}(seconds from `python app.py`) ==")
    events = {**figures, **{f"preload ready: {n}": t for n, t in watch.ready.items()}}
    for name, t in sorted(events.items(), key=lambda kv: kv[1]):
        say(f"  {t:7.1f} s  {name}")
    for note in notes:
        say(f"  ({note})")
    for source, reason in watch.failed.items():
        say(f"  FAILED preload {source}: {reason}")
    missing = [n for n in watch.names if n not in watch.ready and not watch.failed_name(n)]
    for name in missing:
        say(f"  not ready: {name}")
    return missing


def _cmd(pid: int) -> str:
    """A short name of process ``pid``'s command (``python -c CODE``: the code's first words)."""
    try:
        argv = [w.decode(errors="replace") for w in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if w]
    except OSError:
        return "?"
    if len(argv) > 2 and argv[1] == "-c":
        return "`" + " ".join(argv[2].split())[:45] + "`"
    return " ".join(Path(w).name for w in argv[:2])[:45]


def _hwm(pid: int) -> int:
    """Peak resident set size (VmHWM) of ``pid``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preload", nargs="+", default=list(PRELOAD), metavar="FIXTURE",
                   help="files under ../shared/fixtures to serve and preload (default: %(default)s)")
    p.add_argument("--pick", type=int, default=-1, help="which preload the browser picks (index; default the last)")
    p.add_argument("--rate", type=float, default=RATE, help="MB/s of each download from the fixture server "
                   "(0: unthrottled; default %(default)s)")
    p.add_argument("--timeout", type=float, default=TIMEOUT, help="seconds allowed for each wait")
    p.add_argument("--ref", default="HEAD", help="the commit whose files the Space gets (default %(default)s)")
    p.add_argument("--work-tree", action="store_true", help="the work tree's files instead of a commit's")
    p.add_argument("--list", action="store_true", help="also print the deploy listing")
    p.add_argument("--keep", action="store_true", help="keep the temporary folders")
    p.add_argument("--screenshots", default=".", metavar="DIR",
                   help="folder for rehearsal.png (rehearsal-failed.png on a failure); default the current folder")
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())

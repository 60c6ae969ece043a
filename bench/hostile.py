"""Hostile inputs against ganlab's importers, checkpoint loader and downloads (issue 18): every attack class of
``tests/hostile_files.py`` plus the fuzz run of ``tests/test_hostile_fuzz.py``, each class in a fresh process.

    python bench/hostile.py [--fuzz-cases 40] [--only bounds,malformed,wrong,folders,downloads,fuzz,valid]

A last class, ``valid``, imports an honest 256-px StyleGAN2-ADA pickle and relates the import's peak memory to
the size of the model it yields. Per class it prints the number of cases, their outcomes (refused with a CheckpointError / DownloadError,
imported equal to the original, imported with only flipped stored values changed, anything else = a failure),
the process's peak RSS (and how far above its RSS before the first case it went) and the longest time any case
took. Nothing here needs ``../shared``: every file and server is made by the bench.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLASSES = ("bounds", "malformed", "wrong", "folders", "downloads", "fuzz", "valid")


def _rss_mb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited from the process that started it)."""
    with open("/proc/self/status") as f:
        return next(int(ln.split()[1]) for ln in f if ln.startswith("VmHWM:")) / 1024


def _timed(outcomes: Counter, attempt, refusal: type[Exception], refused) -> float:
    """One attack: ``attempt()`` names the outcome when nothing refused it, ``refused()`` when it raised
    ``refusal``; any other exception is a failure. Counts the outcome; returns the seconds it took."""
    t = time.perf_counter()
    try:
        outcome = attempt()
    except refusal:
        outcome = refused()
    except Exception as e:                                         # noqa: BLE001 (counted as a failure)
        outcome = f"{type(e).__name__} (failure)"
    outcomes[outcome] += 1
    return time.perf_counter() - t


def _files(kind: str, tmp: Path) -> tuple[Counter, float]:
    import ganlab
    from ganlab.models import CheckpointError
    from tests import hostile_files as H

    outcomes, slowest = Counter(), 0.0
    for i, (cls, label, build) in enumerate(a for a in H.ATTACKS if a[0] == kind):
        folder = tmp / f"case{i}"
        folder.mkdir()
        path, fmt, _ = build(folder)

        def attempt(path=path, fmt=fmt, out=folder / "out"):
            ganlab.import_model(path, out, format=fmt)
            return "imported (failure)"

        def refused(out=folder / "out"):
            return "refused" if not out.exists() else "refused, left output (failure)"

        slowest = max(slowest, _timed(outcomes, attempt, CheckpointError, refused))
    return outcomes, slowest


def _folders(tmp: Path) -> tuple[Counter, float]:
    from ganlab import checkpoint
    from ganlab.models import CheckpointError
    from ganlab.registry import ModelRegistry
    from tests import hostile_files as H
    from tests.conftest import tiny_generator

    outcomes, slowest = Counter(), 0.0
    for i, (label, text, _) in enumerate(H.FOLDER_ATTACKS):
        root = tmp / f"root{i}"
        checkpoint.save(tiny_generator("stylegan2"), root / "good")
        bad = checkpoint.save(tiny_generator("stylegan2"), root / "bad")
        (bad / "config.json").write_text(text(json.loads((bad / "config.json").read_text())))
        reg = ModelRegistry(root)

        def attempt(reg=reg):
            reg.get("bad")
            return "loaded (failure)"

        def refused(reg=reg):
            status = {s.name: s for s in reg.status()}
            serving = status["good"].available and reg.get("good") is not None
            return ("refused, listed unavailable, others serve" if serving and not status["bad"].available
                    else "refused, but the listing is wrong (failure)")

        slowest = max(slowest, _timed(outcomes, attempt, CheckpointError, refused))
    return outcomes, slowest


def _downloads(tmp: Path) -> tuple[Counter, float]:
    from ganlab import download
    from tests import hostile_files as H

    outcomes, slowest = Counter(), 0.0
    os.environ["GANLAB_TIMEOUT"] = "5"
    for i, (label, mode, size, env, _) in enumerate(H.DOWNLOAD_ATTACKS):
        cache = tmp / f"cache{i}"
        saved = {k: os.environ.get(k) for k in (*env, "GANLAB_CACHE")}
        os.environ.update({**env, "GANLAB_CACHE": str(cache)})
        try:
            with H.misbehaving(bytes(size), mode) as (_, url):
                t = time.perf_counter()
                try:
                    download.fetch(url, retries=0)
                    outcome = "downloaded (failure)"
                except download.DownloadError:
                    left = [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []
                    outcome = "refused, nothing kept" if not left else "refused, left files (failure)"
                slowest = max(slowest, time.perf_counter() - t)
        finally:
            for k, v in saved.items():
                os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
        outcomes[outcome] += 1
    return outcomes, slowest


def _fuzz(tmp: Path, cases: int) -> tuple[Counter, float]:
    from tests import hostile_files as H
    from tests.test_hostile_fuzz import run

    outcomes, slowest = Counter(), 0.0
    for fmt in H.FORMATS:
        try:
            r = run(fmt, tmp / fmt, cases=cases)
            outcomes.update(r["outcomes"])
            slowest = max(slowest, r["slowest"])
        except AssertionError as e:
            outcomes[f"failure: {str(e)[:80]}"] += 1
    return outcomes, slowest


def _valid(tmp: Path) -> tuple[Counter, float, dict]:
    """A valid 256-px StyleGAN2-ADA pickle (NVIDIA's channel rule, 512-d z and w, 8 mapping layers): the
    memory an honest import takes, against the bytes of the model it yields."""
    from tests import hostile_files as H

    kwargs = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                  mapping_kwargs=dict(num_layers=8), synthesis_kwargs=dict(channel_base=16384, channel_max=512))
    path = H.write_stylegan2(tmp / "sg2-256.pkl", H.stylegan2_tree(kwargs))
    probe = (f"import json, sys, time; sys.path.insert(0, {str(ROOT)!r})\n"
             "import ganlab; from ganlab.registry import model_bytes; from tests import hostile_files as H\n"
             "rss = lambda: next(int(ln.split()[1]) for ln in open('/proc/self/status') if ln.startswith('VmHWM:')) / 1024\n"
             f"ganlab.import_model(H.make('dcgan-tutorial', __import__('pathlib').Path({str(tmp / 'w')!r})), "
             f"{str(tmp / 'w-out')!r})\n"
             f"base = rss(); t = time.perf_counter(); out = ganlab.import_model({str(path)!r}, {str(tmp / 'out')!r})\n"
             "took, peak = time.perf_counter() - t, rss()\n"
             "print(json.dumps(dict(base=base, peak=peak, took=took, model=model_bytes(ganlab.load(str(out))) / 2**20)))")
    r = json.loads(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                  check=True).stdout.strip().splitlines()[-1])
    return Counter({"imported": 1}), r["took"], {"base_mb": r["base"], "peak_mb": r["peak"], "model_mb": r["model"],
                                                 "file_mb": path.stat().st_size / 2**20}


def child(kind: str, fuzz_cases: int) -> dict:
    """Run one class in this process; returns its figures."""
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ.setdefault("GANLAB_MODELS_DIR", str(tmp / "models"))
        import ganlab  # noqa: F401  (imported before the baseline is taken)
        from tests import hostile_files as H
        warm = H.make("dcgan-tutorial", tmp / "warm")
        ganlab.import_model(warm, tmp / "warm-out")            # torch and the importers loaded: the baseline
        base = _rss_mb()
        if kind in ("bounds", "malformed", "wrong"):
            outcomes, slowest = _files(kind, tmp)
        elif kind == "folders":
            outcomes, slowest = _folders(tmp)
        elif kind == "downloads":
            outcomes, slowest = _downloads(tmp)
        elif kind == "valid":
            outcomes, slowest, extra = _valid(tmp)
            return {"cases": 1, "outcomes": dict(outcomes), "slowest_s": slowest, **extra}
        else:
            outcomes, slowest = _fuzz(tmp, fuzz_cases)
    return {"cases": sum(outcomes.values()), "outcomes": dict(outcomes), "base_mb": base, "peak_mb": _rss_mb(),
            "slowest_s": slowest}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fuzz-cases", type=int, default=40, help="cases per format in the fuzz run (7 formats)")
    ap.add_argument("--only", default=",".join(CLASSES), help=f"classes, of {', '.join(CLASSES)}")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(a.child, a.fuzz_cases)))
        return 0
    failed = False
    print(f"{'class':10s} {'cases':>5s}  {'peak RSS':>9s} {'above base':>10s} {'slowest':>8s}  outcomes")
    for kind in a.only.split(","):
        t = time.perf_counter()
        r = subprocess.run([sys.executable, __file__, "--child", kind, "--fuzz-cases", str(a.fuzz_cases)],
                           capture_output=True, text=True)
        if r.returncode:
            print(f"{kind:10s} crashed: {r.stderr.strip().splitlines()[-1:]}")
            failed = True
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        failed |= any("failure" in k for k in d["outcomes"])
        outcomes = ", ".join(f"{n} {k}" for k, n in sorted(d["outcomes"].items(), key=lambda kv: -kv[1]))
        if "model_mb" in d:
            outcomes += (f" (a {d['file_mb']:.0f} MB pickle, a {d['model_mb']:.0f} MB model: peak "
                         f"{(d['peak_mb'] - d['base_mb']) / d['model_mb']:.1f}× the model)")
        print(f"{kind:10s} {d['cases']:5d}  {d['peak_mb']:6.0f} MB {d['peak_mb'] - d['base_mb']:7.0f} MB "
              f"{d['slowest_s']:7.2f} s  {outcomes}   ({time.perf_counter() - t:.0f} s in all)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

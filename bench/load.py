"""Load benchmark of the Gradio app: concurrent gradio_client users and live-training streams. Loopback only.

    python bench/load.py [--seconds 60] [--warmup 15] [--users 8] [--sessions 2]

Starts `app.py`'s app in a child process on a free 127.0.0.1 port (bundled checkpoints) and warms every model
up. Then ``--users`` visitors, each its own process with its own gradio_client Client (as visitors are separate
browsers: in one process, eight clients' threads competed for one GIL and their own waiting counted as the
server's latency), loop over a random mix of generate (a grid of a few seeds), slider drags (generate with
z / PC slider values) and a short interpolation GIF, while ``--sessions`` clients stream /live_start. Like a
page, a visitor gets the result as a URL and then fetches the image or GIF; the latency is that of both.
The first ``--warmup`` seconds of this load are not counted (thread pools, allocator arenas and caches
fill up); the next ``--seconds`` are. Prints requests done, errors, p50/p95 latency per endpoint, frames/s per
training session, CPU use, the server's RSS (and its training workers' memory) at the start, half-way and end
of the measured window, and its temp dirs (app outputs and Gradio's cache). Then checks that the limits hold
under load: grid ≤ 64, frames ≤ 240, and that live runs beyond the cap get the friendly busy message.
Targets on a 2-core machine: 0 errors, generate p95 ≤ 1 s, ≥ 5 frames/s per session, RSS not growing.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from gradio_client import Client  # noqa: E402

from bench.common import children, cpu_seconds, free_port, pss_bytes, rss_bytes, wait_for  # noqa: E402

SERVER = """
import sys
from ganlab.ui import build_app, launch_kwargs
demo = build_app()
print("TEMPDIR", demo.ganlab.files.dir, flush=True)
demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True, **launch_kwargs())
"""


def rss_mb(pid: int) -> float:
    return rss_bytes(pid) / 2**20


def dir_usage(path: Path) -> tuple[int, float]:
    """(files, MB) under ``path``; files the app deletes meanwhile (its cap at work) are skipped."""
    sizes = []
    for p in Path(path).rglob("*") if Path(path).exists() else []:
        try:
            sizes += [p.stat().st_size] if p.is_file() else []
        except FileNotFoundError:
            continue
    return len(sizes), sum(sizes) / 1e6


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


# gradio_client sends each request with a fresh httpx.post, which builds an SSL context and loads the CA bundle
# every time (about 20 ms of CPU), even for http://. On this loopback benchmark that CPU comes out of the same two
# cores as the server's; a browser does no such thing. So the visitors (http://127.0.0.1 only) skip it.
LIGHT_CLIENT = dict(verbose=False, ssl_verify=False)


def visitor(i: int, url: str, models: list[str], stop_at, ready, go, results) -> None:
    """One visitor (a process): connects, says so at ``ready`` (a barrier of every visitor and the benchmark),
    waits for ``go``, then loops over random requests until ``stop_at.value`` (warm-up included); puts (kind,
    started, latency or None, error) rows and the CPU seconds of its loop on ``results``."""
    rng = random.Random(i)
    client = Client(url, download_files=False, **LIGHT_CLIENT)
    http = httpx.Client(timeout=60)
    ready.wait()
    go.wait()
    cpu0, rows = sum(os.times()[:2]), []
    while time.monotonic() < stop_at.value:
        r, m = rng.random(), rng.choice(models)
        if r < 0.45:
            kind, kw = "generate", dict(model=m, seed=rng.randrange(10**6), n=rng.choice([1, 4, 6]))
        elif r < 0.9:
            kind, kw = "slider", dict(model=m, seed=i, n=4, **{rng.choice(["z0", "z3", "pc0", "pc2"]):
                                                                round(rng.uniform(-3, 3), 2)})
        else:
            kind, kw = "interpolate", dict(model=m, seed=i, keyframes=f"{i}, {i + 1}", frames=24)
        t = time.monotonic()
        try:
            out = client.predict(**kw, api_name="/interpolate" if kind == "interpolate" else "/generate")
            file = out[0]["url"] if isinstance(out[0], dict) else out[0]
            if not http.get(file).raise_for_status().content:      # the page shows the image: fetch it
                raise ValueError("empty file")
            rows.append((kind, t, time.monotonic() - t, None))
        except Exception as e:  # noqa: BLE001 — every failure counts as an error
            rows.append((kind, t, None, f"{type(e).__name__}: {str(e)[:100]}"))
    results.put((rows, sum(os.times()[:2]) - cpu0))


def start_server(port: int, gradio_tmp: Path):
    env = {**os.environ, "GRADIO_TEMP_DIR": str(gradio_tmp), "GRADIO_ANALYTICS_ENABLED": "False"}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    app_tmp = None
    for line in proc.stdout:
        if line.startswith("TEMPDIR"):
            app_tmp = Path(line.split(None, 1)[1].strip())
            break
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()   # drain the log
    try:
        wait_for(f"http://127.0.0.1:{port}/", proc, timeout=180)
    except (RuntimeError, TimeoutError):
        proc.kill()
        raise SystemExit("the app did not start within 180 s") from None
    return proc, app_tmp


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=60.0, help="measured window")
    p.add_argument("--warmup", type=float, default=15.0, help="seconds of the same load before it, not counted")
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--sessions", type=int, default=2)
    a = p.parse_args()

    port, gradio_tmp = free_port(), Path(tempfile.mkdtemp(prefix="ganlab-load-gradio-"))
    t0 = time.monotonic()
    proc, app_tmp = start_server(port, gradio_tmp)
    url = f"http://127.0.0.1:{port}/"
    users = []
    try:
        print(f"app started in {time.monotonic() - t0:.1f} s on {url} (pid {proc.pid})")
        warm = Client(url, verbose=False)
        models = [m for m in ("dcgan-mnist", "dcgan-fashion", "cgan-mnist", "stylegan2-fashion")]
        api = warm.view_api(print_info=False, return_format="dict")["named_endpoints"]["/generate"]["parameters"]
        known = str(next(x for x in api if x["parameter_name"] == "model")["python_type"]["type"])
        models = [m for m in models if m in known] or [known.split("'")[1]]
        for m in models:   # every kind of request once per model: lazy loads and PCA directions are one-off
            warm.predict(model=m, seed=0, n=6, api_name="/generate")
            warm.predict(model=m, seed=0, n=4, z0=1.0, pc0=1.0, api_name="/generate")
            warm.predict(model=m, seed=0, keyframes="0, 1", frames=24, api_name="/interpolate")
        print(f"warm: {len(models)} models loaded; RSS {rss_mb(proc.pid):.0f} MB")

        ctx = mp.get_context("spawn")
        shared_stop, ready, go, results = ctx.Value("d"), ctx.Barrier(a.users + 1), ctx.Event(), ctx.Queue()
        users += [ctx.Process(target=visitor, args=(i, url, models, shared_stop, ready, go, results), daemon=True)
                  for i in range(a.users)]
        for u in users:
            u.start()
        ready.wait(timeout=180)                        # every visitor has connected: the warm-up starts now
        measure_from = time.monotonic() + a.warmup
        stop_at = shared_stop.value = measure_from + a.seconds
        go.set()

        fps = {}

        def session(j: int):
            client = Client(url, **LIGHT_CLIENT)
            job = client.submit(api_name="/live_start")
            frames, first, its = 0, None, []
            for out in job:
                now = time.monotonic()
                if now >= stop_at:
                    break
                if now < measure_from:
                    continue
                frames += 1
                first = first or now
                found = re.search(r"iteration \*\*([\d,]+)\*\*", str(out[1]))
                its += [int(found.group(1).replace(",", ""))] if found else []
            window = max(1e-9, time.monotonic() - (first or time.monotonic()))
            fps[j] = (frames, frames / window, its[-1] - its[0] if its else 0, window)
            client.predict(api_name="/live_pause")
            job.cancel()

        threads = [threading.Thread(target=session, args=(j,), daemon=True) for j in range(a.sessions)]
        for t in threads:
            t.start()
        while time.monotonic() < measure_from:
            time.sleep(0.05)

        def snapshot():
            workers = children(proc.pid)
            return {"rss": rss_mb(proc.pid), "workers": sum(pss_bytes(w) for w in workers) / 2**20,
                    "cpu": cpu_seconds(proc.pid), "wcpu": sum(cpu_seconds(w) for w in workers if os.path.exists(
                        f"/proc/{w}")), "t": time.monotonic(), "gen": sum(os.times()[:2])}

        s0, (files0, mb0), (gfiles0, gmb0) = snapshot(), dir_usage(app_tmp), dir_usage(gradio_tmp)
        samples = [s0]
        while time.monotonic() < stop_at:
            time.sleep(min(2.0, max(0.0, stop_at - time.monotonic())))
            samples.append(snapshot())
        s1 = samples[-1]
        files1, mb1 = dir_usage(app_tmp)
        gfiles1, gmb1 = dir_usage(gradio_tmp)
        rows, user_cpu = [], 0.0
        for _ in users:
            got, cpu = results.get(timeout=120)
            rows += got
            user_cpu += cpu
        for u in users:
            u.join(30)
        for t in threads:
            t.join()

        latencies, errors = defaultdict(list), defaultdict(list)
        for kind, started, latency, error in rows:
            if started < measure_from:
                continue                                  # warm-up
            (latencies[kind].append(latency) if error is None else errors[kind].append(error))
        wall = s1["t"] - s0["t"]
        done = sum(len(v) for v in latencies.values())
        nerr = sum(len(v) for v in errors.values())
        print(f"\nload: {a.users} users (one process each) + {a.sessions} live sessions for {a.seconds:.0f} s, "
              f"after {a.warmup:.0f} s of the same load as warm-up")
        print(f"requests done {done}, errors {nerr}")
        for kind in ("generate", "slider", "interpolate"):
            xs = latencies.get(kind, [])
            print(f"  {kind:12s} n={len(xs):4d}  p50 {pct(xs, .5):.3f} s  p95 {pct(xs, .95):.3f} s"
                  + (f"  errors {len(errors[kind])}: {errors[kind][:2]}" if errors.get(kind) else ""))
        gen_p95 = pct(latencies.get("generate", []) + latencies.get("slider", []), .95)
        for j, (n, f, its, window) in sorted(fps.items()):
            print(f"  live session {j}: {n} frames, {f:.1f} frames/s, {its:,} iterations ({its / window:,.0f} it/s)")
        half = next(x for x in samples if x["t"] >= s0["t"] + wall / 2)
        print(f"CPU over the window ({os.cpu_count()} cores): the app's server {(s1['cpu'] - s0['cpu']) / wall:.2f} "
              f"cores, its training workers {(s1['wcpu'] - s0['wcpu']) / wall:.2f}; the load generator's "
              f"visitors {user_cpu / (wall + a.warmup):.2f} (warm-up included), its live sessions "
              f"{(s1['gen'] - s0['gen']) / wall:.2f}")
        rss = [x["rss"] for x in samples]
        print(f"server RSS: start {s0['rss']:.0f} MB, half-way {half['rss']:.0f} MB, end {s1['rss']:.0f} MB "
              f"(min {min(rss):.0f}, max {max(rss):.0f}, sampled every 2 s); its training workers (PSS) "
              f"{s0['workers']:.0f} → {s1['workers']:.0f} MB")
        print(f"app temp dir: start {files0} files {mb0:.2f} MB, end {files1} files {mb1:.2f} MB")
        print(f"Gradio cache: start {gfiles0} files {gmb0:.2f} MB, end {gfiles1} files {gmb1:.2f} MB")

        # limits under load (after the timed window, so they do not disturb its figures)
        c = Client(url, verbose=False)
        checks = []
        for what, kw, api_name in (("grid 65", dict(model=models[0], n=65), "/generate"),
                                   ("frames 241", dict(model=models[0], frames=241), "/interpolate")):
            try:
                c.predict(**kw, api_name=api_name)
                checks.append(f"{what}: ACCEPTED (limit broken)")
            except Exception as e:  # noqa: BLE001
                checks.append(f"{what}: refused ({str(e)[:60]})")
        extra = [Client(url, verbose=False) for _ in range(6)]
        jobs = [x.submit(api_name="/live_start") for x in extra]
        time.sleep(min(10.0, a.seconds / 4))
        busy = 0
        for x, job in zip(extra, jobs):
            status = x.predict(api_name="/live_frame")[1]
            busy += "busy" in str(status)
            x.predict(api_name="/live_pause")
            job.cancel()
        checks.append(f"live runs: 6 extra started, {6 - busy} trained, {busy} told the server is busy (cap 4)")
        print("limits: " + "; ".join(checks))
        target_fps = bool(fps) and all(f >= 5 for _, f, _, _ in fps.values())
        growth = s1["rss"] - s0["rss"]
        print(f"targets: errors {'OK' if nerr == 0 else 'MISSED'}; generate p95 {gen_p95:.3f} s "
              f"{'OK' if gen_p95 <= 1 else 'MISSED'}; live ≥ 5 frames/s {'OK' if target_fps else 'MISSED'}; "
              f"server RSS over the window {growth:+.0f} MB, over its second half {s1['rss'] - half['rss']:+.0f} MB")
    finally:
        for u in users:             # after a failure, no visitor keeps running
            if u.is_alive():
                u.terminate()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()

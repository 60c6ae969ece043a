"""Load benchmark of the Gradio app: concurrent gradio_client users and live-training streams. Loopback only.

    python bench/load.py [--seconds 60] [--users 8] [--sessions 2]

Starts `app.py`'s app in a child process on a free 127.0.0.1 port (bundled checkpoints), warms every model up,
then for ``--seconds`` runs ``--users`` concurrent clients, each looping over a random mix of generate (a grid
of a few seeds), slider drags (generate with z / PC slider values) and a short interpolation GIF, plus
``--sessions`` clients streaming /live_start. Prints requests done, errors, p50/p95 latency per endpoint,
frames/s per training session, the server's RSS and its temp dirs (app outputs and Gradio's cache) at start
and end. Then checks that the limits hold under load: grid ≤ 64, frames ≤ 240, and that live runs beyond the
cap get the friendly busy message. Targets on a 2-core machine: 0 errors, generate p95 ≤ 1 s, ≥ 5 frames/s per
session, RSS not growing over the run.
"""
from __future__ import annotations

import argparse
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

from gradio_client import Client  # noqa: E402

from bench.common import cpu_seconds, free_port, rss_bytes, wait_for  # noqa: E402

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
    files = [p for p in Path(path).rglob("*") if p.is_file()] if Path(path).exists() else []
    return len(files), sum(p.stat().st_size for p in files) / 1e6


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


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
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--users", type=int, default=8)
    p.add_argument("--sessions", type=int, default=2)
    a = p.parse_args()

    port, gradio_tmp = free_port(), Path(tempfile.mkdtemp(prefix="ganlab-load-gradio-"))
    t0 = time.monotonic()
    proc, app_tmp = start_server(port, gradio_tmp)
    url = f"http://127.0.0.1:{port}/"
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
        rss0, (files0, mb0), (gfiles0, gmb0) = rss_mb(proc.pid), dir_usage(app_tmp), dir_usage(gradio_tmp)
        print(f"warm: {len(models)} models loaded; RSS {rss0:.0f} MB; app temp dir {files0} files "
              f"{mb0:.2f} MB; Gradio cache {gfiles0} files {gmb0:.2f} MB")

        latencies, errors, lock = defaultdict(list), defaultdict(list), threading.Lock()
        stop_at = time.monotonic() + a.seconds
        rss_samples = []

        def user(i: int):
            rng = random.Random(i)
            client = Client(url, verbose=False)
            while time.monotonic() < stop_at:
                r = rng.random()
                m = rng.choice(models)
                if r < 0.45:
                    kind, kw = "generate", dict(model=m, seed=rng.randrange(10**6), n=rng.choice([1, 4, 6]))
                elif r < 0.9:
                    kind, kw = "slider", dict(model=m, seed=i, n=4, **{rng.choice(["z0", "z3", "pc0", "pc2"]):
                                                                        round(rng.uniform(-3, 3), 2)})
                else:
                    kind, kw = "interpolate", dict(model=m, seed=i, keyframes=f"{i}, {i + 1}", frames=24)
                t = time.monotonic()
                try:
                    client.predict(**kw, api_name="/interpolate" if kind == "interpolate" else "/generate")
                    with lock:
                        latencies[kind].append(time.monotonic() - t)
                except Exception as e:  # noqa: BLE001 — every failure counts as an error
                    with lock:
                        errors[kind].append(f"{type(e).__name__}: {str(e)[:100]}")

        fps = {}

        def session(j: int):
            client = Client(url, verbose=False)
            job = client.submit(api_name="/live_start")
            frames, first, status = 0, None, ""
            for out in job:
                now = time.monotonic()
                if now >= stop_at:
                    break
                frames += 1
                first = first or now
                status = out[1] if isinstance(out, (list, tuple)) and len(out) > 1 else status
            window = max(1e-9, time.monotonic() - (first or time.monotonic()))
            found = re.search(r"iteration \*\*([\d,]+)\*\*", str(status))
            fps[j] = (frames, frames / window, int(found.group(1).replace(",", "")) if found else 0, window)
            client.predict(api_name="/live_pause")
            job.cancel()

        threads = [threading.Thread(target=session, args=(j,)) for j in range(a.sessions)]
        threads += [threading.Thread(target=user, args=(i,)) for i in range(a.users)]
        cpu0 = cpu_seconds(proc.pid), sum(os.times()[:2]), time.monotonic()
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            rss_samples.append((time.monotonic(), rss_mb(proc.pid)))
            time.sleep(2)
        for t in threads:
            t.join()
        rss1, (files1, mb1), (gfiles1, gmb1) = rss_mb(proc.pid), dir_usage(app_tmp), dir_usage(gradio_tmp)
        wall = time.monotonic() - cpu0[2]
        server_cpu, client_cpu = cpu_seconds(proc.pid) - cpu0[0], sum(os.times()[:2]) - cpu0[1]

        done = sum(len(v) for v in latencies.values())
        nerr = sum(len(v) for v in errors.values())
        print(f"\nload: {a.users} users + {a.sessions} live sessions for {a.seconds:.0f} s")
        print(f"requests done {done}, errors {nerr}")
        for kind in ("generate", "slider", "interpolate"):
            xs = latencies.get(kind, [])
            print(f"  {kind:12s} n={len(xs):4d}  p50 {pct(xs, .5):.3f} s  p95 {pct(xs, .95):.3f} s"
                  + (f"  errors {len(errors[kind])}: {errors[kind][:2]}" if errors.get(kind) else ""))
        gen_p95 = pct(latencies.get("generate", []) + latencies.get("slider", []), .95)
        for j, (n, f, its, window) in sorted(fps.items()):
            print(f"  live session {j}: {n} frames, {f:.1f} frames/s, {its:,} iterations ({its / window:,.0f} it/s)")
        half = stop_at - a.seconds / 2
        rss_half = next((r for t, r in rss_samples if t >= half), rss1)
        rss_all = [r for _, r in rss_samples]
        print(f"CPU over the run ({os.cpu_count()} cores): the app {server_cpu / wall:.2f} cores, "
              f"this load generator (gradio_client) {client_cpu / wall:.2f} cores")
        print(f"RSS start {rss0:.0f} MB, half-way {rss_half:.0f} MB, end {rss1:.0f} MB "
              f"(min {min(rss_all):.0f}, max {max(rss_all):.0f}, sampled every 2 s)")
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
        target_fps = all(f >= 5 for _, f, _, _ in fps.values())
        print(f"targets: errors {'OK' if nerr == 0 else 'MISSED'}; generate p95 {gen_p95:.3f} s "
              f"{'OK' if gen_p95 <= 1 else 'MISSED'}; live ≥ 5 frames/s {'OK' if target_fps else 'MISSED'}; "
              f"RSS growth over the run {rss1 - rss0:+.0f} MB, over its second half {rss1 - rss_half:+.0f} MB")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()

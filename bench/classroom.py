"""A class on one Space: the app started as a user starts it, a full-size 1024-px StyleGAN2-ADA and a bundled
model, and 1, 10 and 30 students (threads, each a gradio_client or a page's own protocol).

    python bench/classroom.py                               # every scenario
    python bench/classroom.py --quick                       # fewer students, shorter drags: a few minutes
    python bench/classroom.py --scenarios single,same --students 1,10,30 --drag-seconds 20

The 1024-px model is the FFHQ configuration of StyleGAN2-ADA with random weights, written as an NVIDIA-layout
pickle (``bench/stylegan2_speed.py``'s builder) and imported with ``ganlab.import_model`` into a temporary
``GANLAB_MODELS_DIR``; the app is ``python app.py`` in a subprocess with that environment. It prints:

0. the model's own render time in this process (``views.render_view``, torch's default threads, best of N),
   and the display encodings of that image (PNG as written by default and fast, WebP, JPEG: time, size, PSNR
   against the exact pixels);
1. ``single``: one visitor, one 1024-px image, round trip (the event plus fetching the image, as a page does),
   next to the model's own render time measured again just before (the app idle; so is ``seeds``'s figure);
2. ``same``: N students ask the same view at once ("everyone: seed 7"), every control alike;
   (students are pages: the page's own protocol and header, so the app serves them as it serves a browser, and
   opened before the scenarios with the load events a browser sends on opening the page, which is when the
   server sets up a visitor's session: the opening of them all at once is timed and printed on its own;
   the single visitor is also timed through gradio_client's /generate);
3. ``seeds``: N students each ask another seed at once;
4. ``drag``: N students each drag the z[0] slider for ``--drag-seconds`` with the page's own events (the next
   position is sent when the previous image arrived, as the page's ``trigger_mode="always_last"`` does), then
   let go;
5. ``export``: one visitor exports a 60-frame walk of the 1024-px model; 2 s later another exports a 60-frame
   GIF of the MNIST model (last: the server is stopped after it).

For each: p50 / p95 / max latency, images per second, errors, the app's CPU (cores used, and images per CPU-second
of the app: its own efficiency, steadier than images/s when other processes take part of the machine), this bench's
own (its students' threads share the machine with the app) and the whole machine's (busy share of every core, other
processes included: on a shared machine compare runs made under the same conditions). Targets (issue 19): single ≤
1.25x the in-process render; the last of 30 same-view students within 2x a single round trip; 10 different seeds ≥
0.9x the model's own images/s; a drag preview at least every 3 s (median) with no errors; the MNIST GIF ≤ 2 s while
the walk exports.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from gradio_client import Client  # noqa: E402
from PIL import Image  # noqa: E402

from bench.common import cpu_seconds, free_port, wait_for  # noqa: E402
from tests.http_fixtures import stop_process  # noqa: E402

BIG = "ffhq-1024-random"          # the imported 1024-px model's name in the app
SMALL = "dcgan-mnist"              # the bundled model of the export scenario
SCENARIOS = ["single", "same", "seeds", "drag", "export"]
LIGHT_CLIENT = dict(verbose=False, ssl_verify=False)   # no CA bundle loaded per request (see bench/load.py)
TIMEOUT = 600


# -- the model -----------------------------------------------------------------------------------------------
def make_models_dir(tmp: Path) -> Path:
    """A models folder holding the FFHQ-configuration model, imported from an NVIDIA-layout pickle."""
    import ganlab
    from stylegan2_speed import upstream_network, write_nvidia_like_pickle

    pkl = tmp / "ffhq-like.pkl"
    write_nvidia_like_pickle(upstream_network(), pkl)
    folder = ganlab.import_model(pkl, tmp / "models" / BIG, format="stylegan2-ada")
    pkl.unlink()
    return folder.parent


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def encodings(img: np.ndarray) -> None:
    """Display encodings of one image: time (best of 3), size, PSNR against the exact pixels."""
    from ganlab import export

    cases = {"PNG (Pillow default, level 6)": dict(format="PNG"),
             "PNG fast (compress_level 1)": dict(format="PNG", compress_level=1),
             "WebP q90": dict(format="WEBP", quality=90), "WebP q80": dict(format="WEBP", quality=80),
             "JPEG q90": dict(format="JPEG", quality=90)}
    pil = export.to_pil(img)
    for name, kw in cases.items():
        times = []
        for _ in range(3):
            buf = io.BytesIO()
            t = time.perf_counter()
            pil.save(buf, **kw)
            times.append(time.perf_counter() - t)
        back = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert(pil.mode)).reshape(img.shape)
        q = psnr(img, back)
        print(f"   {name:32s} {min(times) * 1000:7.1f} ms  {len(buf.getvalue()) / 1024:7.0f} KB  "
              f"PSNR {'exact' if q == float('inf') else f'{q:.1f} dB'}")


def render_times(model, repeats: int) -> tuple[float, float, np.ndarray]:
    """(best, median) seconds of views.render_view of one image of ``model`` in this process (torch's default
    threads: every core) after a warm-up, and the last image."""
    from ganlab import views

    img, _ = views.render_view(model, {"seed": 0, "n": 1})                       # warm-up
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        img, _ = views.render_view(model, {"seed": 1 + i, "n": 1})
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times), img


def in_process(model, repeats: int) -> float:
    """The model's best render time here, printed with the display encodings of its image."""
    import ganlab
    from ganlab import views

    best, median, img = render_times(model, repeats)
    print(f"0. in process: views.render_view of one {img.shape[1]}-px image, {torch.get_num_threads()} threads: "
          f"best {best:.2f} s, median {median:.2f} s of {repeats} (= {1 / best:.2f} images/s with every core)")
    print("   display encodings of that image (random weights: a noisier image than a trained model's):")
    encodings(img)
    small = ganlab.load(SMALL)
    grid, _ = views.render_view(small, {"seed": 0, "n": 16})
    print(f"   and of a bundled model's view ({SMALL}, 16 images, {grid.shape[1]} px, crisp upscaled pixels):")
    encodings(grid)
    return best


# -- the app and its visitors ------------------------------------------------------------------------------------
class Machine:
    """CPU use between two readings: the app's process (cores used) and every core's busy share."""

    def __init__(self, pid: int):
        self.pid = pid
        self.start()

    @staticmethod
    def _stat():
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]
        return sum(fields), idle

    def start(self):
        self.t, self.app, self.total = time.perf_counter(), cpu_seconds(self.pid), self._stat()
        self.own = cpu_seconds(os.getpid())

    def read(self, images: int | None = None) -> str:
        """The reading in words; ``images``: also images per CPU-second of the app (the app's own efficiency,
        steadier than images/s when other processes take part of the machine)."""
        wall = time.perf_counter() - self.t
        used = cpu_seconds(self.pid) - self.app
        total, idle = self._stat()
        busy = 1 - (idle - self.total[1]) / max(1, total - self.total[0])
        per = f", {images / used:.2f} images per app CPU-second" if images and used > 0 else ""
        own = (cpu_seconds(os.getpid()) - self.own) / wall
        return (f"CPU: app {used / wall:.2f} of {os.cpu_count()} cores{per}, the students (this bench) {own:.2f}, "
                f"machine {busy * 100:.0f} % busy (all processes)")


class Page:
    """One browser tab as the server sees it: the page's own protocol (queue/join, then the session's event
    stream) with the page's ``x-gradio-user: app`` header, so it can send the events that have no api_name (a
    slider's drag and release) with every input's current value, as the page does."""

    def __init__(self, url: str, config: dict):
        self.url, self.config = url, config
        self.http = httpx.Client(timeout=TIMEOUT, headers={"x-gradio-user": "app"})
        self.session = uuid.uuid4().hex[:11]
        self.values = {c["id"]: c.get("props", {}).get("value") for c in config["components"]}

    def component(self, elem_id: str) -> int:
        return next(c["id"] for c in self.config["components"] if c.get("props", {}).get("elem_id") == elem_id)

    def event(self, elem_id: str, trigger: str) -> dict:
        cid = self.component(elem_id)
        return next(d for d in self.config["dependencies"] if [cid, trigger] in [list(t) for t in d["targets"]])

    def api(self, name: str) -> dict:
        return next(d for d in self.config["dependencies"] if d.get("api_name") == name)

    def open(self) -> None:
        """What a browser sends on opening the page: its load events (the picked model shown, its info, the
        models table), the first events of the page's session."""
        for name in ("page_load", "page_model_info", "models_on_load"):
            dep = self.api(name)
            self.send(dep, dep["targets"][0][0])

    def view(self, name: str = "generate") -> tuple:
        """The inputs event ``name`` would send now (the controls' values)."""
        return tuple(json.dumps(self.values.get(i), sort_keys=True) for i in self.api(name)["inputs"])

    def set(self, **values) -> None:
        for elem_id, value in values.items():
            self.values[self.component(elem_id)] = value

    def generate(self, **values) -> int:
        """Set the controls (by elem_id) and press Generate, as a visitor does; the image's bytes."""
        self.set(**values)
        dep = self.api("generate")
        return self.fetch_image(self.send(dep, dep["targets"][0][0]))

    def send(self, dep: dict, trigger_id: int) -> list:
        """Send event ``dep`` with the current values; its output data (the page's new values applied)."""
        data = [self.values.get(i) for i in dep["inputs"]]
        r = self.http.post(f"{self.url}gradio_api/queue/join",
                           json={"data": data, "fn_index": dep["id"], "trigger_id": trigger_id,
                                 "session_hash": self.session, "event_data": None})
        r.raise_for_status()
        event_id = r.json()["event_id"]
        with self.http.stream("GET", f"{self.url}gradio_api/queue/data", params={"session_hash": self.session}) as s:
            for line in s.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("event_id") != event_id or msg.get("msg") != "process_completed":
                    continue
                if not msg.get("success"):
                    raise RuntimeError(str(msg.get("output"))[:200])
                out = msg["output"]["data"]
                for i, v in zip(dep["outputs"], out):
                    if isinstance(v, dict) and v.get("__type__") == "update":
                        if "value" in v:
                            self.values[i] = v["value"]
                    elif v is not None:
                        self.values[i] = v
                return out
        raise RuntimeError("the event stream ended without the result")

    def fetch_image(self, out: list) -> int:
        """GET the first file of an event's output, as the page's <img> does; its size in bytes (0: none)."""
        f = next((v for v in out if isinstance(v, dict) and v.get("url")), None)
        return len(self.http.get(f["url"]).content) if f else 0


def fetch(http: httpx.Client, result) -> int:
    """Fetch the image of a /generate result (the first of its outputs) as the page would; bytes."""
    first = result[0] if isinstance(result, (list, tuple)) else result
    url = first.get("url") if isinstance(first, dict) else None
    return len(http.get(url).content) if url else 0


def stats(name: str, latencies: list[float], images: int, wall: float, errors: int, cpu: str, extra: str = "") -> None:
    lat = sorted(latencies) or [float("nan")]
    p95 = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    print(f"   {name:34s} p50 {statistics.median(lat):6.2f} s  p95 {p95:6.2f} s  max {lat[-1]:6.2f} s  "
          f"{images / wall:5.2f} images/s  errors {errors}  {cpu}{extra}", flush=True)


def at_once(n: int, job) -> tuple[list[float], int, float]:
    """Run ``job(i)`` in ``n`` threads released together; (latencies, errors, wall time)."""
    barrier = threading.Barrier(n + 1)
    lat, errors = [], []

    def run(i):
        barrier.wait()
        t = time.perf_counter()
        try:
            job(i)
            lat.append(time.perf_counter() - t)
        except Exception as e:                                             # noqa: BLE001 (counted, shown)
            errors.append(repr(e)[:200])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for th in threads:
        th.start()
    barrier.wait()
    t = time.perf_counter()
    for th in threads:
        th.join()
    if errors:
        print(f"   first error: {errors[0]}")
    return lat, len(errors), time.perf_counter() - t


class Bench:
    def __init__(self, url: str, pid: int, students: list[int], drag_seconds: float, repeats: int, model):
        self.url, self.pid, self.students, self.drag_seconds, self.repeats = url, pid, students, drag_seconds, repeats
        self.model = model                  # the 1024-px model loaded in this process: its own render time
        self.config = httpx.get(f"{url}config", timeout=60).json()
        self.pages = [Page(url, self.config) for _ in range(max(students))]
        lat, err, _ = at_once(len(self.pages), lambda i: self.pages[i].open())
        print(f"   {len(self.pages)} students' pages opened at once (the load events a browser sends on opening): "
              f"p50 {statistics.median(lat):.2f} s, max {max(lat):.2f} s, errors {err}", flush=True)
        self.client = Client(url, download_files=False, **LIGHT_CLIENT)
        self.http = httpx.Client(timeout=TIMEOUT)
        self.machine = Machine(pid)
        self.single = None

    def generate(self, i: int, **view) -> None:
        """Student ``i``'s page asks for one image of the 1024-px model (``view``: elem_id → value)."""
        self.pages[i].generate(**{"model-picker": BIG, "grid-n": 1, **view})

    def warm_up(self) -> None:
        t = time.perf_counter()
        self.generate(0, seed=0)                                            # loads the model lazily
        self.generate(0, seed=0, z0=0.5)
        self.pages[0].set(z0=0.0)                                          # the slider back where the others are
        self.client.predict(model=SMALL, seed=0, n=1, api_name="/generate")
        print(f"   warm-up (the app loads both models on first use): {time.perf_counter() - t:.1f} s", flush=True)

    def own_render(self) -> float:
        """The model's best render time in this process now (the app idle), next to the figure it is compared
        with: the machine may be shared, and its load changes over a run."""
        best, median, _ = render_times(self.model, self.repeats)
        print(f"   the model's own render in this process just before: best {best:.2f} s, median {median:.2f} s")
        return best

    def run_single(self) -> None:
        best = self.own_render()
        lat, api = [], []
        self.machine.start()
        for i in range(self.repeats):
            t = time.perf_counter()
            self.generate(0, seed=100 + i)
            lat.append(time.perf_counter() - t)
        cpu = self.machine.read(len(lat))
        for i in range(self.repeats):
            t = time.perf_counter()
            fetch(self.http, self.client.predict(model=BIG, seed=200 + i, n=1, api_name="/generate"))
            api.append(time.perf_counter() - t)
        self.single = min(lat)
        stats("1 visitor, one 1024-px image", lat, len(lat), sum(lat), 0, cpu,
              f"\n   single-visitor round trip (the page): best {min(lat):.2f} s, median {statistics.median(lat):.2f} s; "
              f"the model's own render in process {best:.2f} s: ratio {min(lat) / best:.2f} (target ≤ 1.25); "
              f"through gradio_client (/generate, its PNG fetched): best {min(api):.2f} s")

    def run_same(self) -> None:
        for n in self.students:
            self.machine.start()
            for page in self.pages[:n]:
                page.set(**{"model-picker": BIG, "grid-n": 1, "seed": 1000 + n})
            views = len({page.view() for page in self.pages[:n]})
            lat, err, wall = at_once(n, lambda i: self.generate(i))
            ratio = f"; the last / single round trip {max(lat) / self.single:.1f}x (target ≤ 2 at 30)" \
                if self.single and lat else ""
            ratio += "" if views == 1 else f"; NOT one view: {views} different views were sent"
            stats(f"{n:2d} students, the same view", lat, len(lat), wall, err, self.machine.read(len(lat)), ratio)

    def run_seeds(self) -> None:
        for n in self.students:
            if n == 1:
                continue
            best = self.own_render()
            self.machine.start()
            lat, err, wall = at_once(n, lambda i: self.generate(i, seed=2000 + 100 * n + i))
            stats(f"{n:2d} students, different seeds", lat, len(lat), wall, err, self.machine.read(len(lat)),
                  f"; {len(lat) / wall / (1 / best):.2f}x the model's own images/s (target ≥ 0.9 at 10)")

    def run_drag(self) -> None:
        for n in self.students:
            intervals, previews, releases, errors = [], [], [], []

            def student(i):
                page = Page(self.url, self.config)
                page.values[page.component("model-picker")] = BIG
                page.values[page.component("seed")] = 3000 + i
                page.values[page.component("grid-n")] = 1                 # one image, as in the other scenarios
                drag, release = page.event("z0", "input"), page.event("z0", "release")
                z0, step = page.component("z0"), 0
                mine = []
                try:
                    end = time.perf_counter() + self.drag_seconds
                    last = time.perf_counter()
                    while time.perf_counter() < end:
                        step += 1
                        page.values[z0] = round(2.0 * np.sin(step / 5), 2)    # the mouse keeps moving
                        t = time.perf_counter()
                        out = page.send(drag, z0)
                        page.fetch_image(out)
                        now = time.perf_counter()
                        previews.append(now - t)
                        mine.append(now - last)
                        last = now
                    t = time.perf_counter()
                    page.fetch_image(page.send(release, z0))
                    releases.append(time.perf_counter() - t)
                except Exception as e:                                      # noqa: BLE001 (counted, shown)
                    errors.append(repr(e)[:200])
                intervals.append(statistics.median(mine) if mine else float("inf"))

            self.machine.start()
            t0 = time.perf_counter()
            threads = [threading.Thread(target=student, args=(i,)) for i in range(n)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            if errors:
                print(f"   first error: {errors[0]}")
            stats(f"{n:2d} students dragging {self.drag_seconds:g} s", previews, len(previews), wall, len(errors),
                  self.machine.read(len(previews)),
                  f"\n      time between a student's new images: median over students {statistics.median(intervals):.2f} s, "
                  f"worst student {max(intervals):.2f} s (target ≤ 3); the full image after letting go: "
                  f"max {max(releases, default=float('nan')):.2f} s")

    def run_export(self, timeout: float) -> None:
        walk, gif = {}, {}

        def export(out, delay, **kw):
            time.sleep(delay)
            c = Client(self.url, download_files=False, **LIGHT_CLIENT)
            t = time.perf_counter()
            try:
                c.predict(frames=60, api_name="/interpolate", **kw)
                out["s"] = time.perf_counter() - t
            except Exception as e:                                          # noqa: BLE001 (shown)
                out["error"] = repr(e)[:200]

        self.machine.start()
        a = threading.Thread(target=export, args=(walk, 0), kwargs=dict(model=BIG, keyframes="0, 1, 2"), daemon=True)
        b = threading.Thread(target=export, args=(gif, 2), kwargs=dict(model=SMALL, keyframes="0, 1, 2", label="0"),
                             daemon=True)
        t0 = time.perf_counter()
        a.start(), b.start()
        b.join(timeout)
        a.join(max(0.0, timeout - (time.perf_counter() - t0)))
        show = lambda r: f"{r['s']:.2f} s" if "s" in r else r.get("error", f"not done after {timeout:g} s")  # noqa: E731
        print(f"   60-frame walk of the 1024-px model: {show(walk)}; a 60-frame {SMALL} GIF sent 2 s later: "
              f"{show(gif)} (target ≤ 2 s)  {self.machine.read()}", flush=True)


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))         # stopped: still stop the app (finally below)
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="students 1,10, drags of 8 s, 3 repeats: a few minutes")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"some of {','.join(SCENARIOS)}")
    p.add_argument("--students", default=None, help="class sizes (default 1,10,30; --quick 1,10)")
    p.add_argument("--drag-seconds", type=float, default=None, help="each student's drag (default 20; --quick 8)")
    p.add_argument("--repeats", type=int, default=None, help="single-visitor and in-process repeats (default 5)")
    p.add_argument("--export-timeout", type=float, default=None, help="stop waiting for the exports (default 240)")
    a = p.parse_args()
    scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    if set(scenarios) - set(SCENARIOS):
        p.error(f"unknown scenarios {sorted(set(scenarios) - set(SCENARIOS))}; choose from {SCENARIOS}")
    students = [int(x) for x in (a.students or ("1,10" if a.quick else "1,10,30")).split(",")]
    drag_seconds = a.drag_seconds or (8.0 if a.quick else 20.0)
    repeats = a.repeats or (3 if a.quick else 5)
    export_timeout = a.export_timeout or (120.0 if a.quick else 240.0)
    load = open("/proc/loadavg").read().split()[:3]
    print(f"classroom bench · torch {torch.__version__} · {os.cpu_count()} CPUs · load average {' '.join(load)} · "
          f"scenarios {','.join(scenarios)} · students {students} · drags {drag_seconds:g} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="ganlab-classroom-") as tmp:
        t = time.perf_counter()
        models = make_models_dir(Path(tmp))
        print(f"   {BIG}: FFHQ-configuration StyleGAN2-ADA, random weights, imported from an NVIDIA-layout pickle "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
        import ganlab
        model = ganlab.load(str(models / BIG))
        model.requires_grad_(False)
        in_process(model, repeats)
        port = free_port()
        env = {**os.environ, "GANLAB_MODELS_DIR": str(models)}
        env.pop("GANLAB_PRELOAD", None)
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / "app.log", "w"))
        try:
            url = f"http://127.0.0.1:{port}/"
            wait_for(url, proc)
            bench = Bench(url, proc.pid, students, drag_seconds, repeats, model)
            bench.warm_up()
            if "same" in scenarios and "single" not in scenarios:
                scenarios.insert(0, "single")                    # "same" compares with the single round trip
            steps = {"single": ("1. one visitor (round trip: the event and fetching its image, as the page does)",
                                bench.run_single),
                     "same": ("2. every student asks the same view at once", bench.run_same),
                     "seeds": ("3. every student asks another seed at once", bench.run_seeds),
                     "drag": ("4. every student drags z[0] (the page's own events: preview while dragging, then "
                              "release)", bench.run_drag),
                     "export": ("5. export lanes", lambda: bench.run_export(export_timeout))}
            for name in SCENARIOS:                               # in this order: the export stops the server last
                if name in scenarios:
                    print(steps[name][0], flush=True)
                    steps[name][1]()
        finally:
            stop_process(proc)
            errors = [ln for ln in (Path(tmp) / "app.log").read_text().splitlines() if "Traceback" in ln]
            if errors:
                print(f"   the app's log has {len(errors)} traceback(s): {Path(tmp) / 'app.log'} (removed)")


if __name__ == "__main__":
    main()

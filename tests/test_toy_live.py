"""Live runs (ganlab.toy.runs: worker processes) and the Live training tab (ganlab.ui.live)."""
import os
import signal
import time
import zipfile

import pytest

from ganlab.toy import default_config, lecture_config

# -- runs in worker processes (ganlab.toy.runs) ---------------------------------------------------------------

def test_run_trains_in_a_lower_priority_worker_and_a_dead_worker_is_replaced(tmp_path):
    from ganlab.toy.runs import WORKER_ERRORS, WORKER_NICE, RunPool

    pool = RunPool(workers=1)
    try:
        pool.start()                                    # the app starts its workers before the first visitor
        [pid] = pool.pids()
        run = pool.create(default_config())
        (plane, curves), info = run.tick(max_seconds=0.05)
        assert plane[:2] == curves[:2] == b"\xff\xd8" and info["iteration"] > 0 and info["gif_frames"] == 1
        assert pool.pids() == [pid] and pid != os.getpid()
        assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE)
        assert run.step(3)[1]["iteration"] == info["iteration"] + 3
        assert run.update(lr_g=0.0005)["iteration"] == info["iteration"] + 3 and run.config().lr_g == 0.0005
        with pytest.raises(ValueError, match="reset"):        # the worker's ValueError reaches the caller
            run.update(z_dim=3)
        with pytest.raises(ValueError, match="points"):
            pool.create(lecture_config(dataset="points"))
        assert run.save_gif(str(tmp_path / "a.gif")).endswith("a.gif") and (tmp_path / "a.gif").stat().st_size
        assert zipfile.ZipFile(run.save_checkpoint(str(tmp_path / "a.zip"))).namelist()

        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid in pool.pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(WORKER_ERRORS):
            run.status()
        again = pool.create(default_config())          # a fresh worker takes the new run
        assert again.frame()[1]["iteration"] == 0 and pool.pids() and pid not in pool.pids()
    finally:
        pool.close()
    assert pool.pids() == []


def test_run_in_process_keeps_a_bounded_gif():
    from ganlab.toy import runs as toyrun

    run = toyrun.RunPool(workers=0).create(default_config())
    assert isinstance(run, toyrun.ToyRun)
    with pytest.raises(ValueError, match="no frames"):
        run.save_gif("never.gif")
    for _ in range(toyrun.MAX_GIF_FRAMES + 10):
        run.frame(record=True)
    kept = run.status()["gif_frames"]
    assert toyrun.MAX_GIF_FRAMES // 2 <= kept < toyrun.MAX_GIF_FRAMES


# -- the tab, through gradio_client -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def live_app():
    gr = pytest.importorskip("gradio")
    from ganlab.ui.live import build_live_tab

    with gr.Blocks() as demo, gr.Tab("Live training"):
        sessions = build_live_tab(max_running=1)
    demo.queue()
    _, url, _ = demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=None, quiet=True,
                            show_error=True)
    yield url, sessions
    demo.close()


@pytest.mark.slow
def test_tab_start_frames_pause_reset(live_app, tmp_path):
    from gradio_client import Client, handle_file

    url, sessions = live_app
    client = Client(url, verbose=False)
    job = client.submit(api_name="/live_start")
    deadline = time.monotonic() + 20
    while len(job.outputs()) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    frames = job.outputs()
    assert len(frames) >= 3, "frames did not arrive"
    html, status = frames[-1]
    assert html.startswith('<img src="data:image/jpeg;base64,') and "training" in status

    other = Client(url, verbose=False)  # a second visitor: no shared run, and the cap of 1 run is taken
    assert "No run yet" in other.predict(api_name="/live_frame")[1]
    busy = other.submit(api_name="/live_start")
    assert "busy" in busy.result(timeout=20)[1]

    assert "paused" in client.predict(api_name="/live_pause")
    job.result(timeout=20)  # the stream ends once paused
    assert job.done()
    iterations = sessions.runs[client.session_hash].info["iteration"]
    assert iterations > 0
    for pid in sessions.pool.pids():        # the worker dies (say, out of memory): the visitor is told, and
        os.kill(pid, signal.SIGKILL)        # the next Reset starts a new run in a fresh worker
    deadline = time.monotonic() + 10
    while sessions.pool.pids() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "worker stopped" in client.predict(api_name="/live_step")[1]
    _, status = client.predict(api_name="/live_reset")
    assert "iteration **0**" in status
    assert client.predict(api_name="/live_export_checkpoint").endswith(".zip")

    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    _, status, _ = client.predict(csv_file=handle_file(str(bad)), api_name="/live_use_csv")   # refused: a message
    assert "line 3" in status

    _, status, dataset = client.predict(drawing="[[[10, 50], [90, 50]]]", api_name="/live_use_drawing")
    assert "41 points" in status and dataset["value"] == "points"
    _, status, _ = client.predict(drawing="", api_name="/live_use_drawing")
    assert "empty" in status


def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """A script that makes runs at its top level (no ``if __name__ == "__main__"``) is not run again inside the
    workers (multiprocessing would import it there), and the workers do not load Gradio."""
    import subprocess
    import sys
    from pathlib import Path

    script, log = tmp_path / "script.py", tmp_path / "ran.txt"
    script.write_text(f"with open({str(log)!r}, 'a') as f:\n    f.write('ran\\n')\n"
                      "from ganlab.toy.runs import RunPool\nfrom ganlab.toy import default_config\n"
                      "pool = RunPool(1)\nprint(pool.create(default_config()).tick()[1]['iteration'] > 0)\n")
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(root)},
                         capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "True", out.stderr[-2000:]
    assert log.read_text() == "ran\n"


def _stream_until(job, n, seconds=20):
    deadline = time.monotonic() + seconds
    while len(job.outputs()) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(job.outputs()) >= n, "frames did not arrive"


@pytest.mark.slow
def test_reset_or_a_restarting_setting_while_training_shows_the_new_run(live_app):
    """The Start stream goes on with the new run and its last frame (which Gradio re-sends when the stream ends,
    after any other event's output) is the new run's, never the old run's."""
    from gradio_client import Client

    url, sessions = live_app
    client = Client(url, verbose=False)
    job = client.submit(api_name="/live_start")
    _stream_until(job, 3)
    before = sessions.runs[client.session_hash].info["iteration"]
    assert before > 0
    _, status = client.predict(api_name="/live_reset")
    assert "run 2" in status and "training" in status
    _stream_until(job, len(job.outputs()) + 3)
    _, status = client.predict(g_depth=1, api_name="/live_rebuild")          # a network setting: a new run
    assert "run 3" in status and "starts a new run" in status and "G hidden layers" in status
    _, status = client.predict(g_depth=1, api_name="/live_rebuild")          # the same value again: the same run
    assert "run 3" in status and "G hidden layers" in status
    _stream_until(job, len(job.outputs()) + 3)
    assert "paused" in client.predict(api_name="/live_pause")
    job.result(timeout=20)
    html, status = job.outputs()[-1]
    assert 'data-run="2"' in html and "run 3" in status and "paused" in status
    assert sessions.runs[client.session_hash].config.g_depth == 1


def test_live_gif_is_small_and_carries_its_settings(tmp_path):
    import json

    from PIL import Image

    from ganlab.toy import runs
    from ganlab.toy.gif import GIF_FRAMES, GIF_WIDTH

    run = runs.ToyRun(default_config(seed=3, loss="hinge"))
    for _ in range(130):                       # about 10 s of the tab's streaming
        run.frame(record=True)
    path = run.save_gif(str(tmp_path / "live.gif"))
    with Image.open(path) as gif:
        assert gif.n_frames <= GIF_FRAMES and gif.size[0] == GIF_WIDTH
        settings = json.loads(gif.info["comment"])
    assert settings["loss"] == "hinge" and settings["seed"] == 3 and settings["iterations"] == 0
    assert os.path.getsize(path) < 3_000_000


@pytest.mark.slow
def test_refused_inputs_are_one_log_line_without_traceback(live_app, tmp_path, capfd, caplog):
    from gradio_client import Client, handle_file

    url, _ = live_app
    client = Client(url, verbose=False)
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    capfd.readouterr()
    with caplog.at_level("WARNING", logger="ganlab.live"):
        client.predict(csv_file=handle_file(str(bad)), api_name="/live_use_csv")
        client.predict(csv_file=None, api_name="/live_use_csv")
        client.predict(lr_g=5.0, api_name="/live_step")
    lines = [r.getMessage() for r in caplog.records if r.name == "ganlab.live"]
    assert len(lines) == 3 and "line 3" in lines[0] and "CSV file first" in lines[1] and "lr_g" in lines[2]
    assert "Traceback" not in capfd.readouterr().err


def test_the_table_checks_every_control_value_once(live_app, capfd):
    """Gradio's own range and choice checks are off on the tab's controls: a bad value gets the settings table's
    message in the status line (no error, no traceback), and a seed of 1.5 is refused, not rounded."""
    from gradio_client import Client

    url, sessions = live_app
    client = Client(url, verbose=False)
    capfd.readouterr()
    for kw, message in (({"batch": 4}, "batch must be between 8 and 512"),
                        ({"loss": "<b>nope</b>"}, "loss must be one of"),
                        ({"seed": 1.5}, "seed must be a whole number")):
        _, status = client.predict(**kw, api_name="/live_reset")
        assert message in status and "<b>" not in status
    assert "Traceback" not in capfd.readouterr().err
    assert client.session_hash not in sessions.runs        # nothing was started


def test_live_gif_frames_keep_their_colours(tmp_path):
    """The shared palette reproduces the frames (scaled to the GIF's width) closely, first to last."""
    import io

    import numpy as np
    from PIL import Image

    from ganlab.toy import runs
    from ganlab.toy.gif import GIF_WIDTH, save_gif
    from ganlab.toy.render import side_by_side

    run = runs.ToyRun(default_config(naive=True))
    frames = [np.asarray(side_by_side(*(Image.open(io.BytesIO(b)) for b in run.step(50)[0]))) for _ in range(20)]
    path = save_gif(frames, tmp_path / "a.gif")
    with Image.open(path) as gif:
        for i in (0, 10, 19):
            gif.seek(i)
            ref = Image.fromarray(frames[i]).resize(gif.size, Image.BILINEAR)
            assert gif.size[0] == GIF_WIDTH
            assert np.abs(np.asarray(gif.convert("RGB"), int) - np.asarray(ref, int)).mean() < 6

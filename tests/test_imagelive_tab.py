"""The Live training tab's image GAN (MNIST) through gradio_client, on made-up MNIST-layout data: a visitor beyond the server's
training slots sees their place in line and starts when the first run pauses; a refused setting changes
nothing; the exported model is served by the registry but listed to nobody else; a data set that is not there
is downloaded (from a local mirror) with its progress in the page."""
import contextlib
import time

import gradio as gr
import pytest
from gradio_client import Client

from ganlab.registry import ModelRegistry
from ganlab.ui import live_image
from ganlab.ui.common import App, TempFiles

from .conftest import free_port
from .test_imagelive import made_up_mnist, mnist_mirror

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tab(tmp_path_factory, tiny_checkpoints):
    data = made_up_mnist(tmp_path_factory.mktemp("data"), n=256, n_test=64)
    sessions = live_image.new_sessions(data, slots=1, workers=1)
    registry = ModelRegistry([tiny_checkpoints, sessions.models_root], unlisted=[sessions.models_root])
    with gr.Blocks() as demo:
        picker = gr.Dropdown(["tiny-dcgan"], value="tiny-dcgan")
        with gr.Tab("Image GAN (MNIST)"):
            live_image.build_live_image_tab(App(registry, TempFiles()), picker, sessions)
    port = free_port()
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    yield f"http://127.0.0.1:{port}/", sessions, registry
    demo.close()
    sessions.pool.close()


def statuses(job, n):
    """The status line of the stream's first ``n`` outputs."""
    out = []
    for update in job:
        out.append(update[1])
        if len(out) >= n:
            break
    return out


def test_a_visitor_beyond_the_slots_waits_in_line_then_trains(tab):
    url, sessions, registry = tab
    first, second = Client(url, verbose=False), Client(url, verbose=False)
    a = first.submit(api_name="/live_image_start")
    assert "training" in statuses(a, 2)[-1]
    b = second.submit(api_name="/live_image_start")
    waiting = statuses(b, 1)[0]
    assert "you are number **1** in line" in waiting and "at most 1 run train" in waiting
    assert sessions.line.training() == 1
    first.predict(api_name="/live_image_pause")
    assert "training" in statuses(b, 2)[-1]                      # the slot passed on to the second visitor
    second.predict(api_name="/live_image_pause")
    a.cancel(), b.cancel()


def test_a_refused_setting_changes_nothing_and_the_exported_model_is_listed_to_nobody_else(tab):
    url, sessions, registry = tab
    client = Client(url, verbose=False)
    client.predict(api_name="/live_image_reset")
    status = client.predict(lr_g=5.0, api_name="/live_image_update")
    assert "lr_g must be between" in status
    key = next(k for k, r in sessions.runs.items() if r.snap and r.snap["step"] == 0)
    assert sessions.runs[key].config.lr_g == 1e-3
    picker, status = client.predict(api_name="/live_image_export_model")
    name = picker["value"]
    assert name.startswith("live-mlp-mnist-") and "Exported" in status
    assert registry.get(name).family == "mlp" and name not in registry.available()
    time.sleep(0.1)


def test_every_refresh_of_a_visitors_picker_keeps_the_models_they_exported(tab):
    """The picker's choices come from common.model_choices in every event that refreshes them (the Models tab's
    import and its poll, a page load): inside one of this visitor's events they hold the visitor's export, in
    anyone else's they do not."""
    from types import SimpleNamespace

    from gradio.context import LocalContext

    from ganlab.ui.common import model_choices

    url, sessions, registry = tab
    client = Client(url, verbose=False)
    client.predict(api_name="/live_image_reset")
    name = client.predict(api_name="/live_image_export_model")[0]["value"]
    for visitor, listed in ((client.session_hash, True), ("another-visitor", False), (None, False)):
        token = LocalContext.request.set(None if visitor is None else SimpleNamespace(session_hash=visitor))
        try:
            assert (name in [value for _, value in model_choices(registry)]) is listed, visitor
        finally:
            LocalContext.request.reset(token)


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    with mnist_mirror(tmp_path, monkeypatch) as served:
        yield served


@contextlib.contextmanager
def tab_on(root, tiny_checkpoints):
    """The tab alone, its runs in this process, finding their data in ``root``: (url, sessions)."""
    sessions = live_image.new_sessions(root, slots=1, workers=0)
    with gr.Blocks() as demo:
        live_image.build_live_image_tab(App(ModelRegistry([tiny_checkpoints]), TempFiles()),
                                        gr.Dropdown(["tiny-dcgan"], value="tiny-dcgan"), sessions)
    port = free_port()
    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/", sessions
    finally:
        demo.close()


@pytest.mark.parametrize("action", ["start", "reset"])
def test_a_missing_data_set_downloads_with_its_progress_in_the_page(action, mirror, tiny_checkpoints):
    """Start or Reset on an app without MNIST: the page shows how far the download got (Start, a stream: in its
    status line; Reset: as the event's progress), then the run trains or waits."""
    srv, root = mirror
    with tab_on(root, tiny_checkpoints) as (url, sessions):
        client = Client(url, verbose=False)
        job = client.submit(api_name=f"/live_image_{action}")
        shown = []
        if action == "start":
            for update in job:
                shown.append(update[1])
                if "training" in update[1]:
                    break
            client.predict(api_name="/live_image_pause")
        else:
            while not job.done():
                shown.extend(unit.desc for unit in job.status().progress_data or ())
                time.sleep(0.05)
            assert "paused" in job.result()[1]
        progress = [text for text in shown if text and "downloading MNIST into" in text]
        assert progress and all(f"{root}" in text and " of 4, " in text for text in progress), shown
        assert srv.requests and sessions.runs                   # from the mirror; and a run was made


def test_offline_the_page_says_where_to_put_the_data_in_one_line(mirror, tiny_checkpoints, monkeypatch):
    import torchvision

    from .http_fixtures import refused_url

    _, root = mirror
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [refused_url("")])
    with tab_on(root, tiny_checkpoints) as (url, sessions):
        statuses = [update[1] for update in Client(url, verbose=False).submit(api_name="/live_image_start")]
    last = statuses[-1]
    assert last.startswith("⚠") and "\n" not in last and "could not be downloaded" in last
    assert "GANLAB_DATA_DIR" in last and not sessions.runs


def test_a_network_event_that_changes_nothing_keeps_the_run(tab):
    """Only a changed network setting starts a new run; the same value again (a slider's event sent twice, an API
    client repeating itself) keeps the visitor's training."""
    url, sessions, _ = tab
    client = Client(url, verbose=False)
    client.predict(api_name="/live_image_reset")
    status = client.predict(z_dim=32, api_name="/live_image_rebuild")[1]
    assert "latent size changed" in status
    run = sessions.runs[client.session_hash]
    generation, remote = run.generation, run.remote
    status = client.predict(z_dim=32, api_name="/live_image_rebuild")[1]
    assert run.generation == generation and run.remote is remote and "latent size changed" in status

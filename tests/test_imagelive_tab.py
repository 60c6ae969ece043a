"""The Live training tab's image GAN (MNIST) through gradio_client, on made-up MNIST-layout data: a visitor beyond the server's
training slots sees their place in line and starts when the first run pauses; a refused setting changes
nothing; the exported model is served by the registry but listed to nobody else."""
import time

import gradio as gr
import pytest
from gradio_client import Client

from ganlab.registry import ModelRegistry
from ganlab.ui import live_image
from ganlab.ui.common import App, TempFiles

from .conftest import free_port
from .test_imagelive import made_up_mnist

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

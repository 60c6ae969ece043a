"""A smaller frame size for walks of big models (frame_size): the walk's settings, the CLI's --frame-size, the app's
dropdown and sentence, and a GIF that restores at its frame size."""
import io
import json

import numpy as np
import pytest
from PIL import Image

import ganlab
from ganlab import checkpoint, cli, export, views
from ganlab.ui import interpolate

from .conftest import launched_app, tiny_generator


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A 512-px StyleGAN2 of a few thousand parameters, saved as a checkpoint: (folder, model)."""
    root = tmp_path_factory.mktemp("frames")
    checkpoint.save(tiny_generator("stylegan2", image_size=512, channels_base=64, channels_max=8),
                    root / "tiny-big", dataset="mnist", training={"steps": 0})
    return root, ganlab.load(str(root / "tiny-big"))


def gif_frames(path) -> np.ndarray:
    with Image.open(path) as im:
        frames = []
        for i in range(im.n_frames):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
    return np.stack(frames)


def test_the_frame_size_is_checked_and_the_pixel_bound_uses_it(big):
    _, m = big
    assert views.check_walk(m, {})[1]["frame_size"] == views.FULL
    assert views.check_walk(m, {"frame_size": "256"})[1]["frame_size"] == 256
    assert views.check_walk(m, {"frame_size": 512})[1]["frame_size"] == views.FULL   # the model's own size
    for bad in (1024, 8, "big", 200.5, True):
        with pytest.raises(ValueError, match=r"the frame size must be a whole number from 16 to 512 px \(or 'full'"):
            views.check_walk(m, {"frame_size": bad})
    huge = tiny_generator("stylegan2", image_size=1024, channels_base=128, channels_max=8)
    with pytest.raises(ValueError, match="use at most 64 frames \\(or a smaller frame size\\)"):
        views.check_walk(huge, {"frames": 65})
    assert views.check_walk(huge, {"frames": 240, "frame_size": 256})[1]["frames"] == 240


def test_frames_are_rendered_in_full_and_downscaled_with_antialiasing(big):
    _, m = big
    full, _ = views.render_walk(m, {"keyframes": "1, 2", "frames": 3, "loop": False})
    small, settings = views.render_walk(m, {"keyframes": "1, 2", "frames": 3, "loop": False, "frame_size": 128})
    assert full.shape[1:3] == (512, 512) and small.shape[1:3] == (128, 128) and settings["frame_size"] == 128
    full, small = full[..., 0], small[..., 0].astype(int)                     # grey levels (MNIST's model)
    for a, b in zip(full, small):                 # Pillow's antialiased bicubic resize of the full frame
        pil = np.asarray(Image.fromarray(a).resize((128, 128), Image.Resampling.BICUBIC)).astype(int)
        assert np.abs(pil - b).max() <= 6 and np.abs(pil - b).mean() < 0.5    # Pillow rounds the full frame first
    every_4th = full[:, ::4, ::4].astype(int)     # what a resize without antialiasing would keep
    assert np.abs(every_4th - small).mean() > 2 * np.abs(pil - small[-1]).mean() + 1


def test_the_cli_writes_the_frame_size_and_the_app_restores_it(big, tmp_path):
    root, m = big
    gif = tmp_path / "walk.gif"
    assert cli.main(["interpolate", "--model", str(root / "tiny-big"), "--seeds", "1,2", "--frames", "4",
                     "--frame-size", "128", "--out", str(gif)]) == 0
    frames = gif_frames(gif)
    assert frames.shape[:3] == (4, 128, 128)
    settings = export.read_settings(gif)
    assert settings["frame_size"] == 128 and set(settings) == set(views.WALK_KEYS)
    assert cli.main(["interpolate", "--model", str(root / "tiny-big"), "--seeds", "1,2", "--frame-size", "1024",
                     "--out", str(tmp_path / "no.gif")]) == 2
    assert not (tmp_path / "no.gif").exists()

    from gradio_client import Client
    from gradio_client.exceptions import AppError
    with launched_app(root) as (_, url):
        client = Client(url, verbose=False)
        settings.pop("model")                     # the CLI's model was a folder: the app's picker names it
        out = client.predict(text=json.dumps(settings), model="tiny-big", api_name="/restore_interpolation")
        restored = [o for o in out if isinstance(o, str) and o.endswith(".gif")]
        assert restored and gif_frames(restored[0]).shape[:3] == (4, 128, 128)
        assert json.loads(next(o for o in out if isinstance(o, str) and o.startswith("{")))["frame_size"] == 128
        # the API's walk takes the same setting; the GIF's frames have the chosen size
        _, walk, text, note = client.predict(model="tiny-big", keyframes="0, 1", frames=3, frame_size=256,
                                             api_name="/interpolate")
        assert gif_frames(walk).shape[:3] == (3, 256, 256) and json.loads(text)["frame_size"] == 256
        assert "3 frames of 256×256 px" in note
        with pytest.raises(AppError, match=r"the frame size must be a whole number from 16 to 512 px"):
            client.predict(model="tiny-big", keyframes="0, 1", frames=3, frame_size=4096, api_name="/interpolate")


def test_the_app_offers_smaller_sizes_for_big_models_and_says_what_a_walk_renders(big, tiny_checkpoints):
    root, m = big
    small = ganlab.load(str(tiny_checkpoints / "tiny-dcgan"))
    assert [v for _, v in interpolate.frame_sizes(m)] == [views.FULL, 256, 128]
    assert [v for _, v in interpolate.frame_sizes(small)] == [views.FULL]

    class Registry:
        def get(self, name):
            return {"tiny-big": m, "tiny-dcgan": small}[name]

    class App:
        registry = Registry()
    shown = interpolate.frame_size_update(App, "tiny-big", 128)
    assert shown["visible"] and shown["value"] == 128
    assert not interpolate.frame_size_update(App, "tiny-dcgan", 128)["visible"]
    assert interpolate.frame_size_update(App, "tiny-dcgan", 128)["value"] == views.FULL
    assert interpolate.walk_size(App, {"model": "tiny-big", "frames": 60}) == "60 frames of 512×512 px"
    assert (interpolate.walk_size(App, {"model": "tiny-big", "frames": 60, "frame_size": 128}) ==
            "60 frames of 128×128 px (512-px images, downscaled)")


@pytest.mark.browser
@pytest.mark.slow
def test_the_frame_size_picked_in_the_page_is_the_gifs(big):
    from .test_browser import open_page
    root, _ = big
    with launched_app(root) as (_, url), open_page(url) as page:
        page.locator("#generated img").wait_for()
        page.get_by_role("tab", name="Interpolate").click()
        page.locator("#walk-frame-size input").click()
        page.get_by_role("option", name="128 px").click()
        page.get_by_role("button", name="Interpolate and export GIF").click()
        link = page.locator("#walk-file a[href]").first
        link.wait_for()
        gif = page.request.get(link.get_attribute("href"))
        assert gif.ok
        with Image.open(io.BytesIO(gif.body())) as im:
            assert im.size == (128, 128) and im.n_frames == 60
        page.get_by_text("60 frames of 128×128 px at 10 fps").wait_for()           # the caption says so

"""Pictures of a toy run (numpy + PIL, no matplotlib): the data plane and three curve panels, as two pictures (the
Live tab lays them out for the window) or side by side in one (a GIF's frame).

The renderers take plain data, a :class:`ganlab.toy.trainer.Plane` and a :class:`~ganlab.toy.trainer.History`
(from ``trainer.plane()`` and ``trainer.history()``), never the trainer's internals.
"""
from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .blas import one_blas_thread

REAL_RGB = (27, 120, 55)
FAKE_RGB = (118, 42, 131)
NAIVE_RGB = (240, 130, 20)
NAIVE_EDGE_RGB = (90, 40, 0)                        # the naive G's dots are outlined and drawn on top
D_REAL_RGB = np.array([168, 222, 174], np.float32)  # heatmap where D says "real"
D_FAKE_RGB = np.array([214, 184, 232], np.float32)  # where D says "fake"
D_MID_RGB = np.array([250, 250, 250], np.float32)
PANEL_BG = (255, 255, 255)
AXIS_RGB = (200, 200, 200)
TEXT_RGB = (40, 40, 40)
MANIFOLD_RGB = (178, 140, 190)
ARROW_RGB = (60, 20, 70)
CURVES_WIDTH = 360
PLANE_SIZE = 400


def heatmap_rgb(values: np.ndarray, probability: bool) -> np.ndarray:
    """Colour D's values (H, W): fake-purple below 0.5, white at 0.5, real-green above (H, W, 3) uint8.
    Raw scores (linear heads) are shown relative to their spread over the view: 0.5 + 0.5 tanh(z-score)."""
    v = values.astype(np.float32)
    if not probability:
        v = 0.5 + 0.5 * np.tanh((v - v.mean()) / (2 * v.std() + 1e-6))
    t = np.clip(v * 2 - 1, -1, 1)[..., None]  # -1 fake .. +1 real
    rgb = np.where(t > 0, D_MID_RGB + t * (D_REAL_RGB - D_MID_RGB), D_MID_RGB - t * (D_FAKE_RGB - D_MID_RGB))
    return rgb.astype(np.uint8)


_TEXT_CACHE: dict[str, object] = {}


def draw_text(image: Image.Image, xy: tuple[float, float], text: str, rgb) -> None:
    """ImageDraw.text with the glyph masks cached (PIL's text rendering dominated the frame time)."""
    mask = _TEXT_CACHE.get(text)
    if mask is None:
        if "font" not in _TEXT_CACHE:
            _TEXT_CACHE["font"] = ImageFont.load_default()
        font = _TEXT_CACHE["font"]
        left, top, right, bottom = font.getbbox(text)
        mask = Image.new("L", (max(right, 1), max(bottom, 1)), 0)
        ImageDraw.Draw(mask).text((0, 0), text, fill=255, font=font)
        if len(_TEXT_CACHE) > 2048:
            _TEXT_CACHE.clear()
        _TEXT_CACHE[text] = mask
    image.paste(rgb, (int(xy[0]), int(xy[1]), int(xy[0]) + mask.size[0], int(xy[1]) + mask.size[1]), mask)


def to_pixels(points: np.ndarray, view, size: int) -> np.ndarray:
    """Data coordinates (N, 2) -> pixel coordinates (N, 2) of a size × size picture of ``view``, y down."""
    x0, x1, y0, y1 = view
    px = (points[:, 0] - x0) / (x1 - x0) * (size - 1)
    py = (1 - (points[:, 1] - y0) / (y1 - y0)) * (size - 1)
    return np.stack([px, py], 1)


def draw_dots(image: np.ndarray, pixels: np.ndarray, rgb, radius: int = 1) -> None:
    """Square dots of side 2·radius+1 at pixel positions (N, 2), in place; dots off the image are skipped."""
    h, w = image.shape[:2]
    p = np.round(pixels).astype(np.int64)
    p = p[(p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)]
    d = np.arange(-radius, radius + 1)
    rows = np.clip(p[:, 1, None, None] + d[None, :, None], 0, h - 1)  # (N, k, 1)
    cols = np.clip(p[:, 0, None, None] + d[None, None, :], 0, w - 1)  # (N, 1, k)
    image[rows, cols] = rgb  # one fancy-indexed write for all N·k² pixels


def render_plane(plane, size: int = PLANE_SIZE) -> Image.Image:
    """The data plane: D's heatmap, axes, G's manifold, real (green) and fake (purple) points, the naive G's
    points (orange squares with a dark edge, on top), and arrows along -dL_G/dx on some fakes. A PIL RGB
    image (size × size)."""
    view = plane.view
    if plane.heat is not None:
        image = Image.fromarray(heatmap_rgb(plane.heat, plane.probability)).resize((size, size), Image.BILINEAR)
    else:
        image = Image.new("RGB", (size, size), PANEL_BG)
    draw = ImageDraw.Draw(image)
    origin = to_pixels(np.zeros((1, 2)), view, size)[0]
    draw.line([(0, origin[1]), (size, origin[1])], fill=AXIS_RGB)
    draw.line([(origin[0], 0), (origin[0], size)], fill=AXIS_RGB)
    for line in plane.manifold or []:
        pts = to_pixels(line, view, size).clip(-size, 2 * size)
        draw.line(pts.ravel().tolist(), fill=MANIFOLD_RGB, width=1)
    pixels = np.asarray(image).copy()
    draw_dots(pixels, to_pixels(plane.real, view, size), REAL_RGB)
    draw_dots(pixels, to_pixels(plane.fake, view, size), FAKE_RGB)
    if plane.naive is not None:   # on top of G's points, larger and outlined: visible even where they overlap
        naive = to_pixels(plane.naive, view, size)
        draw_dots(pixels, naive, NAIVE_EDGE_RGB, radius=3)
        draw_dots(pixels, naive, NAIVE_RGB, radius=2)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    if plane.arrows is not None and len(plane.arrows):
        _draw_arrows(draw, to_pixels(plane.fake[:len(plane.arrows)], view, size), plane.arrows, size)
    draw_text(image, (6, 4), f"iteration {plane.iteration:,}", TEXT_RGB)
    legend = [("real", REAL_RGB), ("G", FAKE_RGB)] + ([("naive G", NAIVE_RGB)] if plane.naive is not None else [])
    x = size - 6 - sum(6 * len(t) + 10 for t, _ in legend)
    for text, rgb in legend:
        draw_text(image, (x, 4), text, rgb)
        x += 6 * len(text) + 10
    return image


def _draw_arrows(draw: ImageDraw.ImageDraw, start: np.ndarray, grad: np.ndarray, size: int) -> None:
    norm = np.linalg.norm(grad, axis=1)
    length = 28 * norm / (norm.max() + 1e-12)  # the longest arrow is 28 px
    direction = grad / (norm[:, None] + 1e-12) * np.array([1, -1])  # y axis points down in pixels
    end = start + direction * length[:, None]
    for (sx, sy), (ex, ey), (dx, dy), ln in zip(start, end, direction, length):
        if ln < 1.5 or not (0 <= sx < size and 0 <= sy < size):
            continue
        draw.line([(sx, sy), (ex, ey)], fill=ARROW_RGB)
        for side in (1, -1):  # arrow head: two short strokes
            hx, hy = dx * 0.8 - side * dy * 0.6, dy * 0.8 + side * dx * 0.6
            draw.line([(ex, ey), (ex - 4 * hx, ey - 4 * hy)], fill=ARROW_RGB)


def render_curves(series: list[tuple[np.ndarray, np.ndarray, tuple, str]], title: str, width: int = 360,
                  height: int = 133, y_range: tuple[float, float] | None = None, x_max: float | None = None):
    """A small line chart: series = [(x, y, rgb, label)], drawn with at most `width` points each."""
    image = Image.new("RGB", (width, height), PANEL_BG)
    draw = ImageDraw.Draw(image)
    left, right, top, bottom = 40, width - 6, 16, height - 14
    draw.rectangle([left, top, right, bottom], outline=AXIS_RGB)
    draw_text(image, (left, 2), title, TEXT_RGB)
    finite = [y[np.isfinite(y)] for _, y, _, _ in series if len(y)]
    finite = [y for y in finite if len(y)]
    if not finite:
        return image
    if y_range is None:
        lo = min(float(np.percentile(y, 1)) for y in finite)
        hi = max(float(np.percentile(y, 99)) for y in finite)
    else:
        lo, hi = y_range
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    x_hi = x_max if x_max else max(float(x[-1]) for x, y, _, _ in series if len(x)) or 1.0
    draw_text(image, (2, top - 2), f"{hi:.3g}", TEXT_RGB)
    draw_text(image, (2, bottom - 10), f"{lo:.3g}", TEXT_RGB)
    draw_text(image, (right - 60, bottom + 2), f"{x_hi:,.0f} it", TEXT_RGB)
    legend_x = left + 8 + 6 * len(title)
    for x, y, rgb, label in series:
        ok = np.isfinite(y)
        x, y = x[ok], y[ok]
        if len(x) == 0:
            continue
        if len(x) > (right - left):
            idx = np.linspace(0, len(x) - 1, right - left).astype(int)
            x, y = x[idx], y[idx]
        px = left + x / x_hi * (right - left)
        py = bottom - (np.clip(y, lo, hi) - lo) / (hi - lo) * (bottom - top)
        if len(px) == 1:
            draw.point([(float(px[0]), float(py[0]))], fill=rgb)
        else:
            draw.line(list(zip(px.tolist(), py.tolist())), fill=rgb, width=1)
        draw_text(image, (legend_x, 2), label, rgb)
        legend_x += 6 * len(label) + 10
    return image


def render_curve_panels(history, height: int = PLANE_SIZE, width: int = CURVES_WIDTH) -> Image.Image:
    """Losses, mean D(real)/D(fake) and the distances, stacked: a PIL image (width × height)."""
    image = Image.new("RGB", (width, height), PANEL_BG)
    s, x_max, h, probability = history.series, max(history.iteration, 1), height // 3, history.probability
    panels = [
        ([(*s["d_loss"], (30, 90, 180), "D"), (*s["g_loss"], FAKE_RGB, "G")], "loss", None),
        ([(*s["d_real"], REAL_RGB, "D(real)"), (*s["d_fake"], FAKE_RGB, "D(fake)")],
         "mean D" if probability else "mean score", (0.0, 1.0) if probability else None),
        ([(*s["js"], FAKE_RGB, "JS bits"), (*s["sw"], (30, 90, 180), "SW")]
         + ([(*s["naive_js"], NAIVE_RGB, "naive JS")] if history.naive else []),
         "distance", None),
    ]
    for i, (series, title, y_range) in enumerate(panels):
        image.paste(render_curves(series, title, width, h, y_range, x_max), (0, i * h))
    return image


@one_blas_thread
def render_panels(trainer, size: int = PLANE_SIZE, refresh_metrics: bool = True, curves: Image.Image | None = None,
                  heatmap: bool = True, manifold: bool = True, arrows: int = 32) -> tuple[Image.Image, Image.Image]:
    """The picture of a ToyTrainer as its two panels, for a page that lays them out itself (side by side on a
    wide window, stacked on a phone): the plane (size × size) and the curve panels (CURVES_WIDTH × size; pass
    ``curves`` from render_curve_panels to reuse them). The distances are measured now if refresh_metrics and
    not yet at this iteration."""
    if trainer.metrics_due(ever=not refresh_metrics):
        trainer.metrics()
    plane = trainer.plane(heatmap=48 if heatmap else 0, manifold=manifold, arrows=arrows)
    return render_plane(plane, size), curves if curves is not None else render_curve_panels(trainer.history(), size)


def side_by_side(plane: Image.Image, curves: Image.Image) -> Image.Image:
    """The two panels as one picture, the curves to the right of the plane."""
    frame = Image.new("RGB", (plane.width + curves.width, max(plane.height, curves.height)), PANEL_BG)
    frame.paste(plane, (0, 0))
    frame.paste(curves, (plane.width, 0))
    return frame


def render_frame(trainer, size: int = PLANE_SIZE, refresh_metrics: bool = True, curves: Image.Image | None = None,
                 heatmap: bool = True, manifold: bool = True, arrows: int = 32) -> np.ndarray:
    """The whole picture of a ToyTrainer: :func:`render_panels` side by side. Returns (size, size +
    CURVES_WIDTH, 3) uint8."""
    return np.asarray(side_by_side(*render_panels(trainer, size, refresh_metrics, curves, heatmap, manifold, arrows)))

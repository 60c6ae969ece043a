"""A drawing canvas for the Live tab: a plain 2-D <canvas> in a gr.HTML whose code runs only while the pointer
draws. Its value is the strokes as JSON ([[[x, y], ...], ...] in canvas pixels, y down), which
ganlab.toy.data.points_from_strokes turns into points.

Gradio's Sketchpad (a WebGL image editor) kept the browser's main thread busy (~100 % of a core, reading pixels
back) for as long as the page was open once it had been used, and Pause then took seconds to register.
"""
from __future__ import annotations

import gradio as gr

CANVAS_SIZE = 400
CANVAS_HTML = f"""<div style="display:flex;flex-direction:column;gap:6px;align-items:flex-start">
<span>Draw a distribution (press and drag):</span>
<canvas width="{CANVAS_SIZE}" height="{CANVAS_SIZE}" style="width:min({CANVAS_SIZE}px,100%);aspect-ratio:1;
 border:1px solid #bbb;border-radius:4px;touch-action:none;cursor:crosshair;background:#fff"></canvas>
<button type="button" data-act="clear" style="padding:2px 10px;border:1px solid #bbb;border-radius:4px">clear
 the canvas</button></div>"""
# The canvas's code: strokes are kept in JS and sent as JSON (the component's value) when a stroke ends; nothing
# runs while the pointer is up. Coordinates are canvas pixels, y down (ganlab.toy.data.points_from_strokes).
CANVAS_JS = """
let strokes = [], current = null;
try { strokes = props.value ? JSON.parse(props.value) : []; } catch (e) { strokes = []; }
const canvas = () => element.querySelector('canvas');
function pen(g) { g.strokeStyle = '#1b7837'; g.lineWidth = 3; g.lineCap = 'round'; g.lineJoin = 'round'; }
function redraw() {
  const c = canvas(); if (!c) return;
  const g = c.getContext('2d'); g.clearRect(0, 0, c.width, c.height); pen(g);
  for (const s of strokes) {
    g.beginPath(); g.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s) g.lineTo(x, y);
    if (s.length === 1) g.lineTo(s[0][0] + 0.5, s[0][1]);
    g.stroke();
  }
}
function at(e) {
  const c = canvas(), r = c.getBoundingClientRect(), k = c.width / r.width;
  const clamp = v => Math.max(0, Math.min(c.width, Math.round(v * k)));
  return [clamp(e.clientX - r.left), clamp(e.clientY - r.top)];
}
function end() {
  if (!current) return;
  strokes.push(current); current = null;
  props.value = JSON.stringify(strokes);
  requestAnimationFrame(redraw);
}
element.addEventListener('pointerdown', e => {
  if (e.target.tagName !== 'CANVAS') return;
  current = [at(e)]; e.target.setPointerCapture(e.pointerId);
});
element.addEventListener('pointermove', e => {
  if (!current) return;
  const p = at(e), q = current[current.length - 1], g = canvas().getContext('2d');
  pen(g); g.beginPath(); g.moveTo(q[0], q[1]); g.lineTo(p[0], p[1]); g.stroke();
  current.push(p);
});
element.addEventListener('pointerup', end);
element.addEventListener('pointercancel', end);
element.addEventListener('click', e => {
  if (e.target.dataset && e.target.dataset.act === 'clear') {
    strokes = []; props.value = ''; requestAnimationFrame(redraw);
  }
});
redraw();
"""


def drawing_canvas(**kwargs) -> gr.HTML:
    """The canvas component (an input whose value is the strokes' JSON; "" when empty)."""
    return gr.HTML("", html_template=CANVAS_HTML, js_on_load=CANVAS_JS, **kwargs)

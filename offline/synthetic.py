"""Deterministic synthetic "photo-like" image datasets for offline teaching.

Three kinds of data set can be rendered with nothing but numpy and Pillow:

* ``"flowers"``    -- six invented flower species,
* ``"cats"``       -- six invented cat breeds,
* ``"nonflowers"`` -- a single ``nonflower`` class (houses, cars, mugs, bottles, fish,
  landscapes, tools, abstract objects, foliage, fruit), the negative class of a
  flower-vs-not-flower detector.

Design rules (the course relies on them):

* Classes differ in **shape and pattern, never colour**: every image of a kind takes its
  colours from one palette shared by all classes of that kind, so a colour histogram is
  close to useless for telling classes apart.
* Every image is randomised (pose, scale, position, background clutter, lighting, blur,
  occlusion, sensor noise) from its own RNG, seeded by
  ``SeedSequence([seed, kind_id, class_index, image_index])``: images do not depend on
  generation order and a larger ``n_per_class`` extends a smaller one.
* Drawing happens in normalised 0..1 coordinates on a 2x canvas that is downsampled with
  LANCZOS, so any size from 32 to 1024 pixels works and edges are anti-aliased.

Public API: :data:`KINDS`, :func:`render`, :func:`generate`.
"""

from __future__ import annotations

import json
import math
import pathlib
import re

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

__all__ = ["KINDS", "render", "generate"]

KINDS: dict[str, tuple[str, ...]] = {
    "flowers": (
        "starburst_lily",
        "button_daisy",
        "cup_tulip",
        "hanging_bellflower",
        "layered_camellia",
        "heart_primrose",
    ),
    "cats": (
        "tabby_shorthair",
        "fold_ear",
        "tufted_longhair",
        "colourpoint_wedge",
        "spotted_bengal",
        "patched_bicolour",
    ),
    "nonflowers": ("nonflower",),
}

# Sub-kinds mixed into the single "nonflower" class.  They may also be requested by name
# (render("nonflowers", "car") or generate(..., classes=["car"])) to inspect one of them.
_NONFLOWER_SUBKINDS = (
    "house", "car", "mug", "bottle", "fish", "landscape", "tool", "abstract", "foliage", "fruit",
)
_KIND_IDS = {"flowers": 1, "cats": 2, "nonflowers": 3}
_VERSION = 1  # bump whenever the rendered pixels change, to invalidate cached data sets
_MIN_SIZE, _MAX_SIZE = 32, 1024
_TAU = 2.0 * math.pi

# --------------------------------------------------------------------------------------
# Palettes (shared by all classes of a kind)
# --------------------------------------------------------------------------------------
_PETALS = [
    (236, 112, 160), (246, 244, 238), (250, 212, 66), (150, 88, 200), (214, 38, 56),
    (248, 146, 46), (112, 122, 222), (250, 188, 200), (198, 56, 140),
]
_CENTRES = [(250, 196, 40), (118, 70, 30), (58, 40, 30), (232, 228, 120), (240, 128, 40),
            (96, 124, 52)]
_GREENS = [(58, 118, 48), (92, 140, 58), (38, 88, 40), (112, 150, 66), (70, 104, 60)]
_GARDEN_BG = [(70, 120, 60), (40, 80, 40), (122, 150, 90), (150, 172, 204), (104, 82, 60),
              (182, 170, 140), (30, 50, 35), (200, 210, 222), (150, 130, 90), (90, 110, 80)]
_STUDIO_BG = [(220, 220, 215), (60, 62, 66), (200, 190, 170), (150, 170, 190), (30, 30, 32),
              (230, 215, 200)]
_INDOOR_BG = [(212, 200, 184), (170, 150, 130), (122, 90, 70), (92, 100, 122), (200, 190, 202),
              (62, 60, 70), (150, 160, 140), (226, 222, 210)]
_COATS = [(214, 128, 58), (130, 130, 136), (48, 46, 50), (234, 214, 178), (120, 84, 58),
          (190, 190, 196), (240, 238, 232), (170, 118, 80)]
_EYES = [(112, 172, 70), (222, 162, 40), (92, 152, 222), (200, 110, 40), (204, 200, 80)]
_NOSES = [(230, 140, 150), (80, 58, 58), (172, 100, 92), (200, 120, 110)]
_OBJECTS = [(200, 40, 40), (40, 80, 180), (230, 200, 60), (90, 160, 90), (240, 240, 235),
            (60, 60, 64), (180, 120, 70), (150, 90, 200), (240, 140, 50), (120, 200, 220)]


def _jitter(rng, colour, amount=0.12):
    """A palette colour with a random brightness and per-channel jitter."""
    c = np.asarray(colour, np.float64) * rng.uniform(1 - amount, 1 + amount)
    c = c + rng.normal(0, 255 * amount / 3, 3)
    return tuple(int(v) for v in np.clip(c, 0, 255))


def _pick(rng, palette, amount=0.12):
    """A jittered random colour from ``palette``."""
    return _jitter(rng, palette[rng.integers(len(palette))], amount)


def _mix(c1, c2, t):
    """Linear blend of two RGB tuples (t=0 gives c1)."""
    return tuple(int(a + (b - a) * t) for a, b in zip(c1, c2, strict=True))


def _shade(c, f):
    """Scale an RGB colour by ``f`` (clipped)."""
    return tuple(int(min(255, max(0, v * f))) for v in c)


def _luma(c):
    return 0.3 * c[0] + 0.59 * c[1] + 0.11 * c[2]


# --------------------------------------------------------------------------------------
# Geometry helpers
# --------------------------------------------------------------------------------------
def _rot(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


class _Pose:
    """Maps object-local coordinates to normalised canvas coordinates.

    Local points are spun by ``spin``, foreshortened by ``cos(tilt)`` along y (a tilted
    disc), rotated in the image plane by ``view``, scaled by ``r`` and moved to (cx, cy).
    """

    def __init__(self, cx, cy, r, spin=0.0, tilt=0.0, view=0.0):
        squash = np.diag([1.0, math.cos(tilt)])
        self.m = r * (_rot(view) @ squash @ _rot(spin))
        self.t = np.array([cx, cy])
        self.r = r

    def map(self, pts):
        return np.asarray(pts, np.float64) @ self.m.T + self.t

    def point(self, x, y):
        return self.map([[x, y]])[0]


def _pose_view(pose):
    """Image-plane rotation of a pose (radians)."""
    return math.atan2(pose.m[1, 0], pose.m[0, 0])


def _ellipse_pts(cx, cy, rx, ry, angle=0.0, n=28):
    t = np.linspace(0, _TAU, n, endpoint=False)
    pts = np.stack([rx * np.cos(t), ry * np.sin(t)], 1) @ _rot(angle).T
    return pts + (cx, cy)


def _transform(pts, angle=0.0, dx=0.0, dy=0.0, scale=1.0):
    return np.asarray(pts, np.float64) @ (scale * _rot(angle)).T + (dx, dy)


def _blob_pts(rng, cx, cy, r, n=18, rough=0.3):
    """An irregular closed blob (random radial profile)."""
    t = np.linspace(0, _TAU, n, endpoint=False)
    k = rng.normal(0, 1, (3, 2))
    rr = 1 + rough * sum(k[i, 0] * np.sin((i + 1) * t + k[i, 1]) for i in range(3)) / 2
    return np.stack([cx + r * rr * np.cos(t), cy + r * rr * np.sin(t)], 1)


def _bezier(p0, p1, p2, n=12):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, np.float64) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _shift(a, dy, dx):
    """Shift a 2-D array by (dy, dx) pixels, filling with zeros (no wrap-around)."""
    out = np.zeros_like(a)
    h, w = a.shape
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[yd, xd] = a[ys, xs]
    return out


# --------------------------------------------------------------------------------------
# Drawing surface
# --------------------------------------------------------------------------------------
class _Layer:
    """An RGB drawing plus a coverage mask, addressed in normalised 0..1 coordinates.

    Shapes drawn with ``solid=True`` extend the object's mask; ``solid=False`` only paints
    colour, which is therefore clipped to the existing silhouette (used for patterns).
    """

    def __init__(self, s, fill=(128, 128, 128)):
        self.s = s
        self.img = Image.new("RGB", (s, s), fill)
        self.mask = Image.new("L", (s, s), 0)
        self._d = ImageDraw.Draw(self.img)
        self._m = ImageDraw.Draw(self.mask)

    def fill(self, colour):
        self.img.paste(colour, (0, 0, self.s, self.s))

    def _xy(self, pts):
        return (np.asarray(pts, np.float64) * self.s).ravel().tolist()

    def _w(self, width):
        return max(1, int(round(width * self.s)))

    def polygon(self, pts, fill, solid=True):
        xy = self._xy(pts)
        self._d.polygon(xy, fill=fill)
        if solid:
            self._m.polygon(xy, fill=255)

    def line(self, pts, fill, width, solid=True):
        xy, w = self._xy(pts), self._w(width)
        self._d.line(xy, fill=fill, width=w, joint="curve")
        if solid:
            self._m.line(xy, fill=255, width=w, joint="curve")

    def circle(self, cx, cy, r, fill, solid=True):
        box = [(cx - r) * self.s, (cy - r) * self.s, (cx + r) * self.s, (cy + r) * self.s]
        self._d.ellipse(box, fill=fill)
        if solid:
            self._m.ellipse(box, fill=255)

    def soft_ellipse(self, cx, cy, rx, ry, c_out, c_in, angle=0.0, steps=6, solid=False):
        """Concentric ellipses blending from ``c_out`` (rim) to ``c_in`` (centre)."""
        for i in range(steps):
            f = 1 - i / steps
            t = min(1.0, 1.7 * i / steps)
            self.polygon(_ellipse_pts(cx, cy, rx * f, ry * f, angle), _mix(c_out, c_in, t),
                         solid=solid and i == 0)


# --------------------------------------------------------------------------------------
# Backgrounds
# --------------------------------------------------------------------------------------
def _gradient(rng, h, c1, c2):
    """An (h, h) RGB image blending c1 -> c2 along a random direction, with soft blotches.

    Built on a tiny grid and upsampled (a linear ramp stays linear under bilinear resizing).
    """
    k = int(rng.integers(4, 9))
    a = rng.uniform(0, _TAU)
    y, x = np.mgrid[0:k, 0:k] / (k - 1)
    t = np.clip(0.5 + (x - 0.5) * math.cos(a) + (y - 0.5) * math.sin(a), 0, 1)[..., None]
    out = np.asarray(c1, np.float32) * (1 - t) + np.asarray(c2, np.float32) * t
    luma = rng.normal(0, 1, (k, k, 1)) * rng.uniform(8, 35)
    chroma = rng.normal(0, 1, (k, k, 3)) * rng.uniform(0, 10)
    return _to_image(out + luma + chroma).resize((h, h), Image.BICUBIC)


def _to_image(arr):
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _garden_clutter(rng, d, h):
    """Leaves, grass blades, twigs and bokeh highlights on a half-resolution background."""
    for _ in range(int(rng.integers(4, 14))):
        cx, cy, r = rng.uniform(-0.1, 1.1), rng.uniform(-0.1, 1.1), rng.uniform(0.04, 0.16)
        pts = _transform(_leaf_outline(r * 2.2, r * 0.8), rng.uniform(0, _TAU), cx, cy)
        c = _pick(rng, _GREENS + _GARDEN_BG[:3], 0.2)
        d.polygon((pts * h).ravel().tolist(), fill=c + (int(rng.integers(120, 256)),))
    for _ in range(int(rng.integers(0, 12))):
        x0, y0 = rng.uniform(0, 1), rng.uniform(0.5, 1.1)
        x1, y1 = x0 + rng.normal(0, 0.08), y0 - rng.uniform(0.1, 0.4)
        d.line([x0 * h, y0 * h, x1 * h, y1 * h], fill=_pick(rng, _GREENS, 0.2) + (200,),
               width=max(1, int(h * rng.uniform(0.004, 0.012))))
    for _ in range(int(rng.integers(0, 3))):
        pts = _bezier(rng.uniform(-0.2, 1.2, 2), rng.uniform(0, 1, 2), rng.uniform(-0.2, 1.2, 2))
        d.line((pts * h).ravel().tolist(), fill=_pick(rng, [(90, 70, 50), (60, 50, 40)]) + (220,),
               width=max(1, int(h * rng.uniform(0.008, 0.025))), joint="curve")
    for _ in range(int(rng.integers(0, 10))):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.01, 0.05)
        c = _mix(_pick(rng, _GARDEN_BG), (255, 255, 235), rng.uniform(0.3, 0.8))
        d.ellipse([(cx - r) * h, (cy - r) * h, (cx + r) * h, (cy + r) * h],
                  fill=c + (int(rng.integers(40, 140)),))


def _indoor_clutter(rng, d, h):
    """Floor, window, furniture and cushions for an indoor scene."""
    floor = rng.uniform(0.55, 0.85)
    fc = _pick(rng, _INDOOR_BG[1:4], 0.15)
    d.rectangle([0, floor * h, h, h], fill=fc + (255,))
    for _ in range(int(rng.integers(3, 9))):
        y = (floor + (1 - floor) * rng.random()) * h
        d.line([0, y, h, y + rng.normal(0, 0.02 * h)], fill=_shade(fc, 0.8) + (150,), width=1)
    if rng.random() < 0.5:  # window
        x0, y0 = rng.uniform(-0.1, 0.7), rng.uniform(-0.1, floor - 0.35)
        w, hh = rng.uniform(0.2, 0.4), rng.uniform(0.25, 0.4)
        d.rectangle([x0 * h, y0 * h, (x0 + w) * h, (y0 + hh) * h],
                    fill=_mix(_pick(rng, _GARDEN_BG), (255, 255, 255), 0.6) + (255,))
        d.line([(x0 + w / 2) * h, y0 * h, (x0 + w / 2) * h, (y0 + hh) * h], fill=(240, 240, 240),
               width=max(1, h // 60))
    for _ in range(int(rng.integers(1, 4))):  # furniture / cushions
        pts = _blob_pts(rng, rng.uniform(0, 1), rng.uniform(floor - 0.2, 1.0),
                        rng.uniform(0.08, 0.25), rough=0.15)
        d.polygon((pts * h).ravel().tolist(), fill=_pick(rng, _INDOOR_BG + _OBJECTS, 0.2) + (255,))


def _background(rng, s, style):
    """A blurred background at canvas size ``s`` in one of the styles garden/indoor/studio."""
    h = max(16, s // 2)
    if style == "studio":
        img = _gradient(rng, h, _pick(rng, _STUDIO_BG), _pick(rng, _STUDIO_BG))
        return img.resize((s, s), Image.NEAREST)
    pal = _GARDEN_BG if style == "garden" else _INDOOR_BG
    img = _gradient(rng, h, _pick(rng, pal, 0.2), _pick(rng, pal, 0.2))
    d = ImageDraw.Draw(img, "RGBA")
    (_garden_clutter if style == "garden" else _indoor_clutter)(rng, d, h)
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 4.0) * h / 224))
    return img.resize((s, s), Image.NEAREST)  # blurred already; output is downsampled 2x


# --------------------------------------------------------------------------------------
# Compositing and photographic finish
# --------------------------------------------------------------------------------------
# The object is composited sharply on the 2x canvas; its smooth shading and cast shadow are
# computed at low resolution as one multiplicative "light map" applied after downsampling.
def _resize_f(a, size):
    """Resize a float32 2-D array with bilinear interpolation."""
    return np.asarray(Image.fromarray(a.astype(np.float32), "F").resize((size, size),
                                                                        Image.BILINEAR))


def _light_map(mask, rng, light, size):
    """Per-pixel gain at output ``size``: soft 3-D shading on the object, shadow beside it.

    The mask is blurred into a height field; its slope towards the light brightens the lit
    side, and a shifted, wider blur darkens the background on the far side.
    """
    q = max(16, size // 2)
    mask_small = mask.resize((q, q), Image.BILINEAR)
    b = np.asarray(mask_small.filter(ImageFilter.GaussianBlur(q * 0.025)), np.float32) / 255
    wide = np.asarray(mask_small.filter(ImageFilter.GaussianBlur(q * 0.03)), np.float32) / 255
    lx, ly = math.cos(light), math.sin(light)
    d1 = max(1, round(q * 0.02))
    toward = _shift(b, round(ly * d1), round(lx * d1))
    shade = np.clip(0.68 + 0.38 * b + 2.2 * (b - toward), 0.35, 1.35)
    d2 = max(1, round(q * rng.uniform(0.015, 0.05)))
    shadow = _shift(wide, round(ly * d2), round(lx * d2)) * rng.uniform(0.2, 0.5)
    alpha = np.asarray(mask.resize((size, size), Image.BILINEAR), np.float32) / 255
    return alpha, _resize_f(shade, size), 1 - _resize_f(shadow, size)


def _compose(bg, layer, rng, light, size, gain=None):
    """Paste ``layer`` over ``bg`` (2x canvas) and update the output-size light map."""
    img = Image.composite(layer.img, bg, layer.mask)
    alpha, shade, unshadow = _light_map(layer.mask, rng, light, size)
    if gain is None:
        gain = np.ones((size, size), np.float32)
    return img, alpha * shade + (1 - alpha) * gain * unshadow


def _occluder(rng, s, palette):
    """A foreground branch, bar or blob layer that partly covers the object."""
    layer = _Layer(s)
    kind = rng.integers(3)
    c = _pick(rng, palette, 0.2)
    layer.fill(c)
    if kind == 0:  # branch with a few leaves
        x0 = -0.1 if rng.random() < 0.5 else 1.1
        p0 = np.array([x0, rng.uniform(0.2, 0.9)])
        p2 = np.array([1.0 - x0, rng.uniform(0.0, 1.0)])
        pts = _bezier(p0, rng.uniform(0.2, 0.8, 2), p2)
        layer.line(pts, c, rng.uniform(0.015, 0.04))
        for p in pts[2:-2:3]:
            leaf = _transform(_leaf_outline(0.12, 0.045), rng.uniform(0, _TAU), *p)
            layer.polygon(leaf, _pick(rng, _GREENS))
    elif kind == 1:  # bar / post / fence rail
        w = rng.uniform(0.04, 0.1)
        pts = _transform([[-1.5, -w], [1.5, -w], [1.5, w], [-1.5, w]], rng.uniform(0, math.pi),
                         *rng.uniform(0.1, 0.9, 2))
        layer.polygon(pts, c)
    else:  # out-of-focus blob entering from an edge
        cx, cy = [(rng.uniform(0, 1), -0.05), (1.05, rng.uniform(0, 1)),
                  (rng.uniform(0, 1), 1.05), (-0.05, rng.uniform(0, 1))][rng.integers(4)]
        layer.polygon(_blob_pts(rng, cx, cy, rng.uniform(0.15, 0.3)), c)
    if kind == 2 or rng.random() < 0.4:
        layer.mask = layer.mask.filter(ImageFilter.GaussianBlur(s * rng.uniform(0.005, 0.02)))
    return layer


def _finish(img, gain, rng, size, light):
    """Downsample, then apply blur, light map, exposure, colour temperature and noise."""
    small = img.resize((size, size), Image.LANCZOS)
    if rng.random() < 0.5:
        small = small.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.3) * size / 224))
    y, x = np.mgrid[0:4, 0:4].astype(np.float32) / 3 - 0.5
    ramp = 1 + rng.uniform(0.0, 0.35) * (x * math.cos(light) + y * math.sin(light))
    vignette = 1 - rng.uniform(0.0, 0.5) * (x * x + y * y)
    gain = gain * _resize_f(ramp * vignette, size)
    temp = rng.uniform(-0.08, 0.08)
    rgb = rng.uniform(0.78, 1.18) * np.array([1 + temp, 1.0, 1 - temp], np.float32)
    a = np.asarray(small, np.float32)
    contrast = rng.uniform(0.8, 1.15)
    a = (a * contrast + (1 - contrast) * a.mean()) * gain[..., None] * rgb
    a += rng.standard_normal(a.shape, dtype=np.float32) * rng.uniform(1.0, 7.0)
    return _to_image(a)


# --------------------------------------------------------------------------------------
# Flowers
# --------------------------------------------------------------------------------------
def _petal_outline(shape, length, width, n=14):
    """A petal along +x from the origin (base) to (length, 0) (tip)."""
    t = np.linspace(0, 1, n)
    if shape == "round":
        w = np.sin(np.pi * t**0.75) ** 0.7
    elif shape == "pointed":
        w = np.sqrt(t) * (1 - t) / 0.385
    elif shape == "strap":
        w = np.minimum(1, 6 * t) * np.sqrt(np.clip(1 - t**6, 0, 1))
    elif shape == "heart":  # broad petal with two lobes and a notch at the tip
        upper = np.concatenate([_bezier([0, 0], [0.3 * length, 1.2 * width],
                                        [0.8 * length, 0.95 * width], n=n // 2),
                                _bezier([0.8 * length, 0.95 * width],
                                        [1.12 * length, 0.75 * width], [0.7 * length, 0],
                                        n=n // 2)[1:]])
        return np.concatenate([upper, upper[-2:0:-1] * (1, -1)])
    else:  # "cup": broad egg shape
        w = np.sin(np.pi * t**0.9) ** 0.5
    upper = np.stack([t * length, w * width], 1)
    lower = np.stack([t[::-1] * length, -w[::-1] * width], 1)
    return np.concatenate([upper, lower[1:-1]])


def _leaf_outline(length, width):
    """A pointed leaf centred on the origin, along x."""
    return _petal_outline("pointed", length, width, n=10) - (length / 2, 0)


def _draw_petal(layer, rng, pose, angle, shape, length, width, col, pattern, pcol):
    """One shaded, patterned petal at ``angle`` in flower-plane coordinates."""
    def to_canvas(pts):
        return pose.map(_transform(pts, angle))

    outline = _petal_outline(shape, length, width)
    layer.polygon(to_canvas(outline), _shade(col, 0.9))
    layer.polygon(to_canvas(outline * (0.92, 0.78) + (0.06 * length, 0)),
                  _mix(col, (255, 255, 255), 0.18), solid=False)
    layer.polygon(to_canvas(outline * (0.35, 0.5)), _shade(col, 0.78), solid=False)
    if pattern == "stripe":
        layer.polygon(to_canvas(_petal_outline("pointed", 0.85 * length, 0.14 * width)), pcol,
                      solid=False)
    elif pattern == "spots":
        for _ in range(int(rng.integers(3, 8))):
            t = rng.uniform(0.12, 0.55)
            p = to_canvas([[t * length, rng.uniform(-0.45, 0.45) * width]])[0]
            layer.circle(p[0], p[1], pose.r * width * rng.uniform(0.06, 0.12), pcol, solid=False)
    elif pattern == "veins":
        lw = max(0.0025, pose.r * width * 0.04)
        for y in np.linspace(-0.5, 0.5, 5):
            pts = [[0.05 * length, 0], [0.45 * length, y * 0.55 * width],
                   [0.85 * length, y * 0.8 * width]]
            layer.line(to_canvas(pts), pcol, lw, solid=False)


def _flower_centre(layer, rng, pose, radius, style, col):
    """Centre disc with a dotted, ringed or solid pattern."""
    dark, light = _shade(col, 0.6), _mix(col, (255, 255, 255), 0.35)
    layer.polygon(pose.map(_ellipse_pts(0, 0, radius, radius)), _shade(col, 0.85))
    if style == "dots":
        n = int(rng.integers(30, 60))
        k = np.arange(n)
        rr = radius * 0.92 * np.sqrt((k + 0.5) / n)
        pts = pose.map(np.stack([rr * np.cos(k * 2.39996), rr * np.sin(k * 2.39996)], 1))
        dot = pose.r * radius * 0.09
        for i, (x, y) in enumerate(pts):
            layer.circle(x, y, dot, dark if i % 2 else light, solid=False)
    elif style == "rings":
        for i, f in enumerate((0.8, 0.6, 0.4, 0.2)):
            layer.polygon(pose.map(_ellipse_pts(0, 0, radius * f, radius * f)),
                          dark if i % 2 == 0 else light, solid=False)
    else:  # solid disc with a highlight
        layer.polygon(pose.map(_ellipse_pts(-0.2 * radius, -0.2 * radius, radius * 0.5,
                                            radius * 0.5)), light, solid=False)


def _stem(layer, rng, start, length, angle, green, width):
    """A curved stem from ``start`` going in direction ``angle`` (canvas coordinates)."""
    d = np.array([math.cos(angle), math.sin(angle)])
    n = np.array([-d[1], d[0]])
    end = start + d * length
    mid = (start + end) / 2 + n * rng.normal(0, 0.15) * length
    layer.line(_bezier(start, mid, end), green, width)
    return mid


def _leaf(layer, rng, at, length, angle, green):
    """A pointed leaf with a midrib, growing from ``at`` in direction ``angle``."""
    centre = np.asarray(at) + length / 2 * np.array([math.cos(angle), math.sin(angle)])
    layer.polygon(_transform(_leaf_outline(length, length * rng.uniform(0.22, 0.32)), angle,
                             *centre), green)
    rib = _transform([[-length / 2, 0], [length / 2, 0]], angle, *centre)
    layer.line(rib, _shade(green, 0.75), length * 0.03, solid=False)


def _radial_flower(layer, rng, pose, spec, col, ccol):
    """Face-on radial flower (lily, daisy, camellia, primrose) from a small spec dict."""
    pcol = _shade(col, 0.55) if _luma(col) > 90 else _mix(col, (255, 255, 255), 0.5)
    for ring in range(spec["rings"]):
        n = spec["n"] + ring * spec.get("ring_step", 0)
        length = spec["length"] * (1 - 0.27 * ring)
        offset = rng.uniform(0, _TAU) if ring == 0 else math.pi / n
        ring_col = _mix(col, (255, 255, 255), 0.08 * ring) if ring else col
        for i in range(n):
            a = offset + i * _TAU / n + rng.normal(0, spec.get("jitter", 0.05))
            ln = length * rng.uniform(0.9, 1.08)
            _draw_petal(layer, rng, pose, a, spec["shape"], ln, spec["width"], ring_col,
                        spec["pattern"], pcol)
    if spec["centre"]:
        _flower_centre(layer, rng, pose, spec["centre_r"], spec["centre"], ccol)
    if spec.get("stamens"):
        for _ in range(int(rng.integers(5, 8))):
            a = rng.uniform(0, _TAU)
            ln = rng.uniform(0.35, 0.6)
            tip = pose.point(ln * math.cos(a), ln * math.sin(a))
            layer.line([pose.point(0, 0), tip], _mix(ccol, (230, 230, 200), 0.4), pose.r * 0.02)
            layer.circle(tip[0], tip[1], pose.r * 0.045, _shade(ccol, 0.55))


_RADIAL_SPECS = {
    "starburst_lily": lambda rng: dict(rings=1, n=int(rng.choice([6, 6, 5])), length=1.0,
                                       width=0.24, shape="pointed", pattern="spots",
                                       jitter=0.08, centre="solid", centre_r=0.1, stamens=True),
    "button_daisy": lambda rng: dict(rings=1, n=int(rng.integers(16, 26)), length=1.0,
                                     width=0.075, shape="strap", pattern=None, jitter=0.04,
                                     centre="dots", centre_r=0.33),
    "layered_camellia": lambda rng: dict(rings=int(rng.integers(2, 4)), n=int(rng.integers(6, 9)),
                                         ring_step=-1, length=1.0, width=0.46, shape="round",
                                         pattern=None, centre="rings", centre_r=0.16),
    "heart_primrose": lambda rng: dict(rings=1, n=5, length=1.0, width=0.6, shape="heart",
                                       pattern="veins", jitter=0.03, centre="rings",
                                       centre_r=0.22),
}


def _radial_species(name):
    def draw(layer, rng, cx, cy, r, col, ccol, green):
        tilt = rng.uniform(0, 1.0)
        view = rng.uniform(0, _TAU)
        if rng.random() < 0.6:
            d = view + math.pi / 2 + rng.normal(0, 0.3)
            _stem(layer, rng, np.array([cx, cy]), rng.uniform(0.4, 1.0), d, green, r * 0.07)
        pose = _Pose(cx, cy, r, spin=rng.uniform(0, _TAU), tilt=tilt, view=view)
        spec = _RADIAL_SPECS[name](rng)
        if name == "starburst_lily" and rng.random() < 0.4:
            spec["pattern"] = "stripe"
        _radial_flower(layer, rng, pose, spec, col, ccol)
    return draw


def _draw_tulip(layer, rng, cx, cy, r, col, ccol, green):
    """Side view of a cup-shaped tulip on a stem with long leaves."""
    view = rng.normal(0, 0.25)
    pose = _Pose(cx, cy, r, view=view)
    down = pose.map([[0, 0.45], [rng.normal(0, 0.3), 2.0], [rng.normal(0, 0.3), 4.0]])
    layer.line(_bezier(*down), green, r * 0.09)
    for side in (-1, 1):
        if rng.random() < 0.7:
            base = pose.map([[0, rng.uniform(1.6, 2.6)]])[0]
            _leaf(layer, rng, base, r * rng.uniform(1.2, 2.0),
                  view - math.pi / 2 + side * rng.uniform(0.25, 0.6), _shade(green, 1.1))
    pcol = _shade(col, 0.65)
    width = rng.uniform(0.32, 0.42)
    for a, w, f in ((-0.35, 0.8, 0.7), (0.35, 0.8, 0.7), (-0.22, 1.0, 0.95), (0.22, 1.0, 0.95),
                    (0.0, 1.05, 1.0)):
        a = a + rng.normal(0, 0.04)
        outline = _petal_outline("cup", 1.05, width * w)
        local = _transform(outline, -math.pi / 2 + a, 0, 0.45)

        def to_canvas(pts, local_angle=-math.pi / 2 + a):
            return pose.map(_transform(pts, local_angle, 0, 0.45))
        layer.polygon(pose.map(local), _shade(col, 0.85 * f))
        layer.polygon(to_canvas(outline * (0.8, 0.7) + (0.2, 0)), _mix(_shade(col, f),
                      (255, 255, 255), 0.12), solid=False)
        layer.polygon(to_canvas(outline * (0.35, 0.8)), _shade(pcol, f), solid=False)
        layer.line(to_canvas([[0.1, 0], [0.9, 0]]), _shade(col, 0.75 * f), r * 0.015,
                   solid=False)


def _draw_bellflower(layer, rng, cx, cy, r, col, ccol, green):
    """An arching stem with 2-4 bell-shaped flowers hanging from it."""
    side = 1 if rng.random() < 0.5 else -1
    p0 = np.array([cx - side * r * 2.2, cy - r * rng.uniform(1.0, 2.0)])
    p2 = np.array([cx + side * r * 2.5, cy + r * rng.uniform(-0.5, 0.5)])
    p1 = np.array([cx, cy - r * rng.uniform(1.8, 2.8)])
    arch = _bezier(p0, p1, p2, n=20)
    layer.line(arch, green, r * 0.06)
    n = int(rng.integers(2, 5))
    for k, t in enumerate(np.sort(rng.uniform(0.25, 0.95, n))):
        at = arch[int(t * (len(arch) - 1))]
        sz = r * rng.uniform(0.75, 1.05) * (1.0 if k == n - 1 else 0.85)
        drop = rng.uniform(0.15, 0.45) * r
        layer.line([at, at + (side * 0.2 * drop, drop)], green, r * 0.03)
        _bell(layer, rng, at + (side * 0.2 * drop, drop), sz, rng.normal(side * 0.2, 0.25),
              col, ccol)
    if rng.random() < 0.6:
        _leaf(layer, rng, arch[3], r * 0.9, rng.uniform(0, _TAU), green)


def _bell(layer, rng, top, size, angle, col, ccol):
    """One bell hanging from ``top``; its mouth (with 5 flared lobes) opens downwards."""
    lobes = 5
    t = np.linspace(0, 1, 8)
    left = np.stack([-(0.18 + 0.28 * t**1.6), 0.05 + 0.95 * t], 1)
    u = np.linspace(0, 1, 6 * lobes + 1)
    rim = np.stack([-0.46 + 0.92 * u, 1.0 + 0.12 * np.abs(np.sin(np.pi * lobes * u)) ** 0.6
                    - 0.1 * np.sin(np.pi * u)], 1)
    right = left[::-1] * (-1, 1)
    outline = np.concatenate([[[0, 0]], left, rim, right])

    def to_canvas(pts):
        return _transform(pts, angle, *top, scale=size)
    layer.polygon(to_canvas(outline), _shade(col, 0.85))
    layer.polygon(to_canvas(outline * (0.55, 0.9) + (-0.12, 0)), _mix(col, (255, 255, 255), 0.2),
                  solid=False)
    layer.polygon(to_canvas(_ellipse_pts(0, 1.02, 0.4, 0.08)), _shade(col, 0.45), solid=False)
    for x in np.linspace(-0.3, 0.3, lobes - 1):
        layer.line(to_canvas([[x * 0.4, 0.1], [x, 0.98]]), _shade(col, 0.7), size * 0.02,
                   solid=False)
    layer.line(to_canvas([[0, 0.7], [0.03, 1.3]]), _mix(ccol, (240, 240, 220), 0.4), size * 0.04)
    layer.line(to_canvas([[0, 0], [0, -0.05]]), _GREENS[0], size * 0.12)


_FLOWER_DRAWERS = {
    "starburst_lily": _radial_species("starburst_lily"),
    "button_daisy": _radial_species("button_daisy"),
    "cup_tulip": _draw_tulip,
    "hanging_bellflower": _draw_bellflower,
    "layered_camellia": _radial_species("layered_camellia"),
    "heart_primrose": _radial_species("heart_primrose"),
}


def _draw_flowers(layer, rng, class_name):
    """One main flower (sometimes with smaller companions) of ``class_name``."""
    draw = _FLOWER_DRAWERS[class_name]
    col = _pick(rng, _PETALS, 0.1)
    ccol = _pick(rng, _CENTRES, 0.1)
    green = _pick(rng, _GREENS, 0.15)
    layer.fill(col)
    for _ in range(int(rng.choice([0, 0, 0, 1, 2]))):
        far = rng.uniform(0.08, 0.92, 2)
        draw(layer, rng, far[0], far[1], rng.uniform(0.07, 0.14), _jitter(rng, col, 0.05), ccol,
             green)
    cx, cy = rng.uniform(0.28, 0.72), rng.uniform(0.28, 0.72)
    draw(layer, rng, cx, cy, rng.uniform(0.18, 0.34), col, ccol, green)


# --------------------------------------------------------------------------------------
# Cats
# --------------------------------------------------------------------------------------
_CAT_BREEDS = {
    "tabby_shorthair": dict(ears="pointed", face="round", coat="tabby", fluffy=False,
                            eyes="almond"),
    "fold_ear": dict(ears="folded", face="round", coat="solid", fluffy=False, eyes="round"),
    "tufted_longhair": dict(ears="tufted", face="round", coat="ruff", fluffy=True,
                            eyes="almond"),
    "colourpoint_wedge": dict(ears="large", face="wedge", coat="colourpoint", fluffy=False,
                              eyes="slanted"),
    "spotted_bengal": dict(ears="pointed", face="wedge", coat="spotted", fluffy=False,
                           eyes="almond"),
    "patched_bicolour": dict(ears="pointed", face="round", coat="bicolour", fluffy=False,
                             eyes="round"),
}


def _head_outline(rng, face, fluffy, n=72):
    """Cat head silhouette (local units, radius ~1, y down)."""
    th = np.linspace(0, _TAU, n, endpoint=False)
    s = np.sin(th)
    if face == "wedge":
        r = 1 - 0.34 * np.clip(s, 0, None) ** 1.4
        sx, sy = 0.95, 1.08
    else:
        r = 1 + 0.08 * np.exp(-((np.abs(np.cos(th)) - 0.8) / 0.2) ** 2) * (s > 0)
        sx, sy = 1.06, 0.94
    if fluffy:
        k = int(rng.integers(11, 16))
        spikes = np.abs(np.sin(k * th + rng.uniform(0, _TAU))) ** 0.5
        r = r + 0.1 * spikes * rng.uniform(0.5, 1.0, n) + 0.18 * np.clip(s, 0, None) ** 2
    return np.stack([sx * r * np.cos(th), sy * r * s], 1)


def _fluffy_ellipse(rng, cx, cy, rx, ry, fluffy, n=60):
    pts = _ellipse_pts(cx, cy, rx, ry, n=n)
    if fluffy:
        t = np.linspace(0, _TAU, n, endpoint=False)
        k = 1 + 0.07 * np.abs(np.sin(int(rng.integers(14, 20)) * t)) ** 0.5 * rng.uniform(
            0.5, 1.2, n)
        pts = (pts - (cx, cy)) * k[:, None] + (cx, cy)
    return pts


def _ear(layer, rng, pose, side, style, coat, inner, tip_col):
    """One ear (pointed/large/tufted as triangles, folded as a small flap)."""
    spread = rng.uniform(0.62, 0.85) if style != "large" else rng.uniform(0.72, 0.9)
    th = -math.pi / 2 + side * spread
    if style == "folded":  # a short flap bent forward over the head, with a shadow under it
        def at(a, rr):
            return np.array([rr * math.cos(a), rr * math.sin(a)])
        base = [at(th - 0.34, 0.86), at(th + 0.34, 0.86)]
        tip = at(th - side * 0.3, 1.0) + at(th, -0.12)
        flap = _bezier(base[0], at(th, 1.28), base[1], n=10)
        flap = np.concatenate([flap, _bezier(base[1], tip + at(th - side, 0.1), base[0], n=8)])
        layer.polygon(pose.map(flap + at(th, -0.05)), _shade(coat, 0.55), solid=False)
        layer.polygon(pose.map(flap), tip_col)
        layer.line(pose.map(_bezier(base[0], at(th, 1.05), base[1], n=8)), _shade(coat, 0.7),
                   pose.r * 0.03, solid=False)
        return
    height, half = {"pointed": (0.75, 0.32), "large": (1.05, 0.4), "tufted": (0.85, 0.3)}[style]
    height *= rng.uniform(0.9, 1.1)

    def at(a, rr):
        return np.array([rr * math.cos(a), rr * math.sin(a)])
    tip = at(th + side * 0.12, 1 + height)
    tri = np.stack([at(th - half, 0.88), tip, at(th + half, 0.88)])
    layer.polygon(pose.map(tri), tip_col)
    centre = tri.mean(0)
    layer.polygon(pose.map((tri - centre) * 0.62 + centre + at(th, -0.05)), inner, solid=False)
    if style == "tufted":
        for _ in range(5):
            d = at(th + side * 0.12 + rng.normal(0, 0.25), rng.uniform(0.2, 0.4))
            layer.line(pose.map([tip - d * 0.2, tip + d]), tip_col, pose.r * 0.04)
        for _ in range(5):
            p = centre + rng.normal(0, 0.08, 2)
            layer.line(pose.map([p, p + at(th, 0.35)]), (236, 230, 220), pose.r * 0.025,
                       solid=False)


def _eye(layer, rng, pose, x, y, style, iris, side, light):
    """One eye: almond, slanted almond or round, with slit/round pupil and highlight."""
    if style == "round":
        rx, ry, ang = 0.22, 0.21, 0.0
    else:
        rx, ry, ang = 0.19, 0.12, (-side * 0.3 if style == "slanted" else -side * 0.08)
    t = np.linspace(0, _TAU, 28, endpoint=False)
    lens = np.stack([rx * np.cos(t), ry * np.sin(t) * (1 - 0.35 * np.cos(t) ** 4)], 1)
    shape = _transform(lens, ang, x, y)
    layer.polygon(pose.map(_transform(lens * 1.18, ang, x, y)), (28, 24, 22))
    layer.polygon(pose.map(shape), iris, solid=False)
    layer.polygon(pose.map(_transform(lens * 0.6, ang, x - 0.02, y - 0.02)),
                  _mix(iris, (255, 255, 220), 0.3), solid=False)
    pw = rx * rng.uniform(0.15, 0.7)
    layer.polygon(pose.map(_ellipse_pts(x, y, pw, ry * 0.95, n=16)), (12, 10, 10), solid=False)
    hx, hy = x - 0.5 * pw * math.cos(light) - 0.04, y - 0.5 * ry
    layer.circle(*pose.point(hx, hy), pose.r * 0.035, (250, 250, 250), solid=False)


def _fur_strokes(layer, rng, pose, centre, radius, coat, fluffy, n):
    """Short lighter/darker strokes that give the coat a fur texture."""
    pts = centre + rng.normal(0, 1, (n, 2)) * radius * 0.55
    d = pts - centre
    d = d / (np.linalg.norm(d, axis=1, keepdims=True) + 1e-6)
    ln = rng.uniform(0.05, 0.12, (n, 1)) * (2.0 if fluffy else 1.0)
    ends = pts + d * ln
    for p, e in zip(pose.map(pts), pose.map(ends), strict=True):
        c = _shade(coat, rng.uniform(0.8, 1.2))
        layer.line([p, e], c, pose.r * 0.02, solid=False)


def _coat_pattern(layer, rng, pose, style, coat, dark, second, body_c):
    """Tabby stripes, spots/rosettes, colourpoint mask, bicolour patches or a ruff."""
    if style == "tabby":
        for x in (-0.22, 0.0, 0.22):  # forehead "M"
            layer.line(pose.map([[x * 1.3, -0.95], [x, -0.55], [x * 0.6, -0.35]]), dark,
                       pose.r * 0.07, solid=False)
        for side in (-1, 1):
            for dy in (0.05, 0.25):
                layer.line(pose.map([[side * 0.55, dy], [side * 0.8, dy + 0.05],
                                     [side * 1.1, dy + 0.15]]), dark, pose.r * 0.07, solid=False)
        for k in range(int(rng.integers(5, 9))):
            x = body_c[0] - 1.4 + k * 0.4 + rng.normal(0, 0.05)
            bend = (x - body_c[0]) * 0.5
            pts = _bezier([x, body_c[1] - 1.6], [x + bend + rng.normal(0, 0.1), body_c[1]],
                          [x + rng.normal(0, 0.15), body_c[1] + 1.6], n=8)
            layer.line(pose.map(pts), dark, pose.r * rng.uniform(0.1, 0.16), solid=False)
    elif style == "spotted":
        pts = np.concatenate([rng.uniform(-1, 1, (16, 2)) * (0.9, 0.45) + (0, -0.55),
                              rng.normal(0, 1, (26, 2)) * 0.7 + body_c])
        for i, (x, y) in enumerate(pts):
            r = 0.06 if i < 16 else rng.uniform(0.09, 0.16)
            ring = _ellipse_pts(x, y, r * rng.uniform(1.0, 1.5), r, rng.uniform(0, _TAU), n=12)
            layer.polygon(pose.map(ring), dark, solid=False)
            if i >= 16:
                layer.polygon(pose.map((ring - (x, y)) * 0.5 + (x, y)), _mix(dark, coat, 0.6),
                              solid=False)
    elif style == "colourpoint":
        layer.soft_ellipse(*pose.point(0, 0.18), pose.r * 0.8, pose.r * 0.72, coat, dark,
                           angle=_pose_view(pose), steps=8)
    elif style == "bicolour":
        blaze = [[0, -0.35], [-0.5, 1.1], [0.5, 1.1]]
        layer.polygon(pose.map(_transform(blaze, rng.normal(0, 0.25))), second, solid=False)
        for _ in range(int(rng.integers(1, 3))):
            c = rng.uniform(-1.0, 1.0, 2) + (0, -0.2)
            layer.polygon(pose.map(_blob_pts(rng, c[0], c[1], rng.uniform(0.35, 0.6))), second,
                          solid=False)
        layer.polygon(pose.map(_blob_pts(rng, body_c[0] + rng.normal(0, 0.4), body_c[1] - 0.4,
                                         0.8)), second, solid=False)
    elif style == "ruff":
        layer.polygon(pose.map(_fluffy_ellipse(rng, 0, 1.05, 0.95, 0.45, True)),
                      _mix(coat, (245, 240, 230), 0.3), solid=False)


def _cat_colours(rng, breed):
    coat = _pick(rng, _COATS, 0.08)
    if _luma(coat) < 80:
        dark = _mix(coat, (150, 140, 130), 0.35)
    else:
        dark = _shade(coat, rng.uniform(0.35, 0.55) if breed["coat"] == "colourpoint"
                      else rng.uniform(0.42, 0.6))
    second = _pick(rng, [c for c in _COATS if c != coat], 0.06)
    return coat, dark, second


def _draw_cat(layer, rng, class_name, light):
    """A sitting or lying cat seen from the front, head dominant."""
    breed = _CAT_BREEDS[class_name]
    coat, dark, second = _cat_colours(rng, breed)
    layer.fill(coat)
    pose = _Pose(rng.uniform(0.3, 0.7), rng.uniform(0.28, 0.52), rng.uniform(0.14, 0.24),
                 view=rng.normal(0, 0.22))
    fluffy = breed["fluffy"]
    lying = rng.random() < 0.3
    side = 1 if rng.random() < 0.5 else -1
    body_c = np.array([side * 1.3, 1.3]) if lying else np.array([rng.normal(0, 0.3), 1.9])
    body_r = (2.0, 1.0) if lying else (rng.uniform(1.2, 1.5), 1.45)
    body_col = coat
    if rng.random() < 0.6:  # tail
        start = body_c + (side * body_r[0] * 0.8, body_r[1] * 0.5)
        tail = _bezier(start, start + (side * 0.9, 0.2), start + (side * 0.6, -1.0))
        layer.line(pose.map(tail), dark if breed["coat"] == "colourpoint" else coat,
                   pose.r * (0.35 if fluffy else 0.22))
    layer.polygon(pose.map(_fluffy_ellipse(rng, *body_c, *body_r, fluffy)), body_col)
    if not lying:
        for sx in (-0.5, 0.5):
            x = body_c[0] + sx
            paw = _ellipse_pts(x, body_c[1] + 1.6, 0.3, 0.17)
            layer.line(pose.map([[x, body_c[1] + 0.2], [x, body_c[1] + 1.55]]),
                       _shade(coat, 1.06), pose.r * 0.5)
            layer.polygon(pose.map(paw), _shade(coat, 1.06))
            layer.line(pose.map([[x - side * 0.25, body_c[1] + 0.6], [x - side * 0.25,
                                                                      body_c[1] + 1.5]]),
                       _shade(coat, 0.75), pose.r * 0.03, solid=False)
    ear_col = dark if breed["coat"] == "colourpoint" else coat
    inner = _mix(_pick(rng, _NOSES, 0.05), coat, 0.4)
    for s in (-1, 1):
        _ear(layer, rng, pose, s, breed["ears"], coat, inner, ear_col)
    layer.polygon(pose.map(_head_outline(rng, breed["face"], fluffy)), coat)
    _fur_strokes(layer, rng, pose, np.zeros(2), 1.2, coat, fluffy, 40)
    _fur_strokes(layer, rng, pose, body_c, 2.2, coat, fluffy, 40)
    _coat_pattern(layer, rng, pose, breed["coat"], coat, dark, second, body_c)
    if breed["coat"] not in ("bicolour", "colourpoint") and rng.random() < 0.3:
        chest = _blob_pts(rng, body_c[0], body_c[1] - 0.6, 0.5, rough=0.15)
        layer.polygon(pose.map(chest), second, solid=False)
    _face(layer, rng, pose, breed, coat, dark, light)


def _face(layer, rng, pose, breed, coat, dark, light):
    """Eyes, muzzle, nose, mouth and whiskers."""
    iris = _pick(rng, _EYES, 0.08)
    ey = rng.uniform(-0.1, 0.0)
    ex = 0.38 if breed["face"] == "round" else 0.36
    for s in (-1, 1):
        _eye(layer, rng, pose, s * ex, ey, breed["eyes"], iris, s, light)
    muzzle = _mix(coat, (250, 245, 235), 0.25)
    if breed["coat"] == "colourpoint":
        muzzle = _mix(dark, coat, 0.2)
    for s in (-1, 1):
        layer.polygon(pose.map(_ellipse_pts(s * 0.12, 0.42, 0.15, 0.12, n=16)), muzzle,
                      solid=False)
    nose = _pick(rng, _NOSES, 0.05)
    layer.polygon(pose.map([[-0.09, 0.24], [0.09, 0.24], [0.0, 0.34]]), nose, solid=False)
    line = (40, 30, 30)
    layer.line(pose.map([[0, 0.34], [0, 0.44]]), line, pose.r * 0.02, solid=False)
    for s in (-1, 1):
        layer.line(pose.map([[0, 0.44], [s * 0.06, 0.5], [s * 0.13, 0.47]]), line,
                   pose.r * 0.02, solid=False)
    whisker = (236, 234, 228) if _luma(coat) < 200 else (70, 66, 64)
    length = 1.1 if breed["fluffy"] else rng.uniform(0.7, 0.95)
    for s in (-1, 1):
        for k, a in enumerate((-0.15, 0.05, 0.25)):
            a = a + rng.normal(0, 0.05)
            p0 = np.array([s * 0.18, 0.42 + 0.03 * k])
            p2 = p0 + length * np.array([s * math.cos(a), math.sin(a)])
            p1 = (p0 + p2) / 2 + (0, -0.06)
            layer.line(pose.map(_bezier(p0, p1, p2, n=6)), whisker, pose.r * 0.012)


# --------------------------------------------------------------------------------------
# Non-flowers
# --------------------------------------------------------------------------------------
def _nf_house(layer, rng, pose):
    wall, roof = _pick(rng, _OBJECTS + _INDOOR_BG), _pick(rng, _OBJECTS + _PETALS)
    layer.fill(wall)
    layer.polygon(pose.map([[-1, -0.3], [1, -0.3], [1, 1], [-1, 1]]), wall)
    layer.polygon(pose.map([[-1.2, -0.3], [0, -1.1], [1.2, -0.3]]), roof)
    glass = _mix(_pick(rng, _GARDEN_BG), (230, 240, 255), 0.5)
    for x in rng.choice([-0.65, -0.2, 0.25, 0.65], int(rng.integers(2, 4)), replace=False):
        layer.polygon(pose.map([[x - 0.15, 0.0], [x + 0.15, 0.0], [x + 0.15, 0.35],
                                [x - 0.15, 0.35]]), glass, solid=False)
        layer.line(pose.map([[x, 0.0], [x, 0.35]]), (240, 240, 240), pose.r * 0.02, solid=False)
    dx = rng.uniform(-0.6, 0.6)
    layer.polygon(pose.map([[dx - 0.15, 0.5], [dx + 0.15, 0.5], [dx + 0.15, 1], [dx - 0.15, 1]]),
                  _shade(roof, 0.6), solid=False)


def _nf_car(layer, rng, pose):
    body = _pick(rng, _OBJECTS + _PETALS)
    layer.fill(body)
    layer.polygon(pose.map([[-1.2, 0.1], [-1.1, -0.2], [-0.5, -0.25], [-0.3, -0.6], [0.5, -0.6],
                            [0.8, -0.2], [1.2, -0.1], [1.25, 0.35], [-1.2, 0.35]]), body)
    glass = (150, 180, 200)
    layer.polygon(pose.map([[-0.22, -0.52], [0.08, -0.52], [0.08, -0.25], [-0.4, -0.25]]),
                  glass, solid=False)
    layer.polygon(pose.map([[0.16, -0.52], [0.45, -0.52], [0.68, -0.25], [0.16, -0.25]]),
                  glass, solid=False)
    for x in (-0.7, 0.75):
        layer.polygon(pose.map(_ellipse_pts(x, 0.35, 0.28, 0.28)), (30, 30, 32))
        layer.polygon(pose.map(_ellipse_pts(x, 0.35, 0.13, 0.13)), (170, 170, 175), solid=False)
    layer.circle(*pose.point(1.15, 0.0), pose.r * 0.07, (250, 240, 200), solid=False)


def _nf_mug(layer, rng, pose):
    c = _pick(rng, _OBJECTS + _PETALS)
    layer.fill(c)
    layer.line(pose.map(_ellipse_pts(0.75, 0.2, 0.35, 0.4, n=20)[list(range(15, 20)) +
                                                                 list(range(0, 6))]),
               c, pose.r * 0.14)
    layer.polygon(pose.map([[-0.7, -0.8], [0.7, -0.8], [0.7, 0.9], [-0.7, 0.9]]), c)
    layer.polygon(pose.map(_ellipse_pts(0, 0.9, 0.7, 0.15)), c)
    layer.polygon(pose.map(_ellipse_pts(0, -0.8, 0.7, 0.15)), _shade(c, 0.5))
    if rng.random() < 0.5:
        band = _pick(rng, _OBJECTS)
        layer.polygon(pose.map([[-0.7, -0.1], [0.7, -0.1], [0.7, 0.15], [-0.7, 0.15]]), band,
                      solid=False)


def _nf_bottle(layer, rng, pose):
    c = _pick(rng, [(60, 120, 60), (120, 70, 30), (200, 210, 220)] + _OBJECTS)
    layer.fill(c)
    layer.polygon(pose.map([[-0.45, -0.2], [-0.15, -0.6], [-0.15, -1.2], [0.15, -1.2],
                            [0.15, -0.6], [0.45, -0.2], [0.45, 1.1], [-0.45, 1.1]]), c)
    layer.polygon(pose.map([[-0.18, -1.35], [0.18, -1.35], [0.18, -1.15], [-0.18, -1.15]]),
                  _pick(rng, _OBJECTS))
    layer.polygon(pose.map([[-0.45, 0.1], [0.45, 0.1], [0.45, 0.7], [-0.45, 0.7]]),
                  _pick(rng, _OBJECTS + _STUDIO_BG), solid=False)
    layer.line(pose.map([[-0.3, -0.1], [-0.3, 1.0]]), _mix(c, (255, 255, 255), 0.6),
               pose.r * 0.06, solid=False)


def _nf_fish(layer, rng, pose):
    c = _pick(rng, _OBJECTS + _PETALS)
    layer.fill(c)
    layer.polygon(pose.map([[0.8, 0], [1.4, -0.5], [1.3, 0], [1.4, 0.5]]), _shade(c, 0.85))
    t = np.linspace(0, _TAU, 30, endpoint=False)
    body = np.stack([np.cos(t), 0.5 * np.sin(t) * (1 - 0.3 * np.cos(t))], 1)
    layer.polygon(pose.map(body), c)
    layer.polygon(pose.map([[-0.1, -0.45], [0.3, -0.75], [0.5, -0.35]]), _shade(c, 0.8))
    stripe = _pick(rng, _OBJECTS)
    for x in np.linspace(-0.3, 0.6, int(rng.integers(0, 4))):
        layer.line(pose.map([[x, -0.5], [x + 0.1, 0.5]]), stripe, pose.r * 0.1, solid=False)
    layer.circle(*pose.point(-0.6, -0.1), pose.r * 0.09, (240, 240, 240), solid=False)
    layer.circle(*pose.point(-0.6, -0.1), pose.r * 0.05, (10, 10, 10), solid=False)


def _nf_landscape(layer, rng, pose):
    """Hills, a mountain and trees spanning the frame (no central object)."""
    layer.fill(_pick(rng, _GREENS))
    x = np.linspace(-0.1, 1.1, 12)
    for _ in range(int(rng.integers(1, 4))):
        y0 = rng.uniform(0.45, 0.85)
        y = y0 + 0.06 * np.sin(x * rng.uniform(3, 9) + rng.uniform(0, _TAU))
        hill = np.concatenate([np.stack([x, y], 1), [[1.1, 1.1], [-0.1, 1.1]]])
        layer.polygon(hill, _pick(rng, _GREENS + _GARDEN_BG[4:6], 0.2))
    for _ in range(int(rng.integers(0, 5))):
        tx, ty, h = rng.uniform(0, 1), rng.uniform(0.55, 0.9), rng.uniform(0.08, 0.2)
        layer.line([[tx, ty], [tx, ty - h]], (80, 60, 40), h * 0.1)
        layer.polygon([[tx - h * 0.35, ty - h * 0.3], [tx, ty - h * 1.3],
                       [tx + h * 0.35, ty - h * 0.3]], _pick(rng, _GREENS))


def _nf_tool(layer, rng, pose):
    handle, metal = _pick(rng, _OBJECTS + [(150, 100, 60)]), _pick(rng, [(160, 160, 168),
                                                                         (100, 100, 110)])
    layer.fill(metal)
    layer.polygon(pose.map([[-0.1, -0.6], [0.1, -0.6], [0.12, 1.3], [-0.12, 1.3]]), handle)
    if rng.random() < 0.5:  # hammer
        layer.polygon(pose.map([[-0.6, -0.95], [0.5, -0.95], [0.5, -0.55], [-0.6, -0.55]]),
                      metal)
    else:  # wrench
        layer.polygon(pose.map(_ellipse_pts(0, -0.85, 0.38, 0.38)), metal)
        layer.polygon(pose.map([[-0.12, -1.3], [0.12, -1.3], [0.12, -0.85], [-0.12, -0.85]]),
                      _shade(metal, 0.4), solid=False)


def _nf_abstract(layer, rng, pose):
    """A few cubes, spheres and rings."""
    layer.fill(_pick(rng, _OBJECTS))
    for _ in range(int(rng.integers(1, 4))):
        c = _pick(rng, _OBJECTS + _PETALS)
        x, y, r = rng.uniform(-0.8, 0.8), rng.uniform(-0.8, 0.8), rng.uniform(0.3, 0.6)
        shape = rng.integers(3)
        if shape == 0:
            layer.polygon(pose.map(_ellipse_pts(x, y, r, r)), c)
        elif shape == 1:
            top = [[x, y - r], [x + r, y - r / 2], [x, y], [x - r, y - r / 2]]
            layer.polygon(pose.map(top), _shade(c, 1.2))
            layer.polygon(pose.map([[x - r, y - r / 2], [x, y], [x, y + r], [x - r, y + r / 2]]),
                          c)
            layer.polygon(pose.map([[x, y], [x + r, y - r / 2], [x + r, y + r / 2], [x, y + r]]),
                          _shade(c, 0.7))
        else:
            layer.line(pose.map(_ellipse_pts(x, y, r, r * 0.5, n=30)[list(range(30)) + [0]]), c,
                       pose.r * r * 0.3)


def _nf_foliage(layer, rng, pose):
    """A leafy twig: leaves only, no petals (a hard negative)."""
    green = _pick(rng, _GREENS)
    layer.fill(green)
    pts = pose.map(_bezier([-1.5, 1.0], [rng.normal(0, 0.5), 0], [1.5, -1.0]))
    layer.line(pts, (90, 70, 50), pose.r * 0.05)
    for p in pts[1:-1]:
        for s in (-1, 1):
            a = rng.uniform(0, _TAU) if rng.random() < 0.3 else _pose_angle(pts) + s * 1.0
            _leaf(layer, rng, p, pose.r * rng.uniform(0.5, 0.9), a, _jitter(rng, green, 0.1))


def _pose_angle(pts):
    d = pts[-1] - pts[0]
    return math.atan2(d[1], d[0])


def _nf_fruit(layer, rng, pose):
    c = _pick(rng, _PETALS[2:6] + [(120, 190, 60)])
    layer.fill(c)
    for _ in range(int(rng.integers(1, 4))):
        x, y, r = rng.uniform(-0.6, 0.6), rng.uniform(-0.4, 0.5), rng.uniform(0.45, 0.7)
        layer.polygon(pose.map(_ellipse_pts(x, y, r * 1.05, r * rng.uniform(0.85, 1.0))),
                      _jitter(rng, c, 0.06))
        layer.line(pose.map([[x, y - r * 0.8], [x + 0.05, y - r * 1.2]]), (90, 60, 30),
                   pose.r * 0.05)
        if rng.random() < 0.6:
            _leaf(layer, rng, pose.point(x + 0.05, y - r * 1.1), pose.r * 0.5,
                  rng.uniform(-1.2, 0.2), _pick(rng, _GREENS))


_NONFLOWER_DRAWERS = {
    "house": _nf_house, "car": _nf_car, "mug": _nf_mug, "bottle": _nf_bottle,
    "fish": _nf_fish, "landscape": _nf_landscape, "tool": _nf_tool,
    "abstract": _nf_abstract, "foliage": _nf_foliage, "fruit": _nf_fruit,
}


def _draw_nonflower(layer, rng, subkind):
    if subkind == "nonflower":
        subkind = _NONFLOWER_SUBKINDS[rng.integers(len(_NONFLOWER_SUBKINDS))]
    upright = subkind in ("house", "car")
    scale = rng.uniform(0.22, 0.34) if subkind == "abstract" else rng.uniform(0.14, 0.3)
    pose = _Pose(rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), scale,
                 view=rng.normal(0, 0.1) if upright else rng.uniform(-1.2, 1.2))
    _NONFLOWER_DRAWERS[subkind](layer, rng, pose)


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _valid_classes(kind):
    return KINDS[kind] + (_NONFLOWER_SUBKINDS if kind == "nonflowers" else ())


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; valid kinds are: {', '.join(KINDS)}")


def _class_index(kind, class_name):
    names = _valid_classes(kind)
    if class_name not in names:
        raise ValueError(f"unknown class {class_name!r} for kind {kind!r}; "
                         f"valid class names are: {', '.join(names)}")
    return names.index(class_name)


def check_int(name, value, lo, hi=None):
    """A clear ValueError unless ``value`` is an integer in ``[lo, hi]``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bounds = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be {bounds}, got {value}")


def _image_rng(seed, kind, class_index, index):
    ss = np.random.SeedSequence([int(seed), _KIND_IDS[kind], int(class_index), int(index)])
    return np.random.default_rng(ss)


def render(kind: str, class_name: str, size: int = 128, seed: int = 0,
           index: int = 0) -> Image.Image:
    """One RGB image of `class_name`, deterministic in (kind, class, seed, index).

    Args:
        kind: one of ``KINDS`` ("flowers", "cats", "nonflowers").
        class_name: one of ``KINDS[kind]`` (for "nonflowers" also a sub-kind such as "car").
        size: output width = height in pixels, 32..1024.
        seed: non-negative data-set seed.
        index: non-negative image number within the class.

    Returns:
        A ``size`` x ``size`` RGB ``PIL.Image.Image``.
    """
    _check_kind(kind)
    ci = _class_index(kind, class_name)
    check_int("size", size, _MIN_SIZE, _MAX_SIZE)
    check_int("seed", seed, 0)
    check_int("index", index, 0)
    rng = _image_rng(seed, kind, ci, index)
    size = int(size)
    s = 2 * size
    light = rng.uniform(0, _TAU)
    style = _background_style(rng, kind)
    bg = _background(rng, s, style)
    layer = _Layer(s)
    if kind == "flowers":
        _draw_flowers(layer, rng, class_name)
    elif kind == "cats":
        _draw_cat(layer, rng, class_name, light)
    else:
        _draw_nonflower(layer, rng, class_name)
    img, gain = _compose(bg, layer, rng, light, size)
    if rng.random() < 0.3:
        palette = _GREENS + [(90, 70, 50), (60, 50, 40)] + (_INDOOR_BG if kind == "cats" else [])
        img, gain = _compose(img, _occluder(rng, s, palette), rng, light, size, gain)
    return _finish(img, gain, rng, size, light)


def _background_style(rng, kind):
    u = rng.random()
    if u < 0.15:
        return "studio"
    if kind == "cats":
        return "indoor" if u < 0.7 else "garden"
    return "garden" if kind == "flowers" or u < 0.8 else "indoor"


def _manifest(kind, n_per_class, size, seed, classes):
    return {"generator": "offline.synthetic", "version": _VERSION, "kind": kind,
            "n_per_class": int(n_per_class), "size": int(size), "seed": int(seed),
            "classes": list(classes)}


def _file_name(class_name, index):
    return f"{class_name}_{index:04d}.png"


def _cache_is_valid(out_dir, manifest):
    path = out_dir / "manifest.json"
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    if old != manifest:
        return False
    return all((out_dir / c / _file_name(c, manifest["n_per_class"] - 1)).is_file()
               for c in manifest["classes"])


def _remove_stale(class_dir, class_name, n_per_class):
    """Delete our own images with an index >= n_per_class left by an earlier, larger run."""
    pattern = re.compile(rf"{re.escape(class_name)}_(\d{{4,}})\.png")
    for p in class_dir.glob(f"{class_name}_*.png"):
        m = pattern.fullmatch(p.name)
        if m and int(m.group(1)) >= n_per_class:
            p.unlink()


def generate(kind: str, out_dir, n_per_class: int = 60, size: int = 128, seed: int = 0,
             classes=None, progress: bool = True) -> pathlib.Path:
    """Write an ImageFolder tree out_dir/<class_name>/<class_name>_<index:04d>.png.

    A ``manifest.json`` with the parameters is written to ``out_dir`` last; when it already
    matches (and the images are there) the call returns at once without re-rendering.
    For ``kind="nonflowers"`` the default single class is ``nonflower`` (a mix of sub-kinds);
    ``classes`` may instead name sub-kinds (e.g. ``["car", "house"]``) to write one folder each.

    Args:
        kind: one of ``KINDS``.
        out_dir: destination folder (created if missing).
        n_per_class: images per class (>= 1); image ``i`` is identical for any n > i.
        size: image side in pixels, 32..1024.
        seed: non-negative data-set seed.
        classes: optional subset of class names (default: all of ``KINDS[kind]``).
        progress: show a progress bar (:func:`utils.env.progress`).

    Returns:
        ``out_dir`` as a ``pathlib.Path``.
    """
    _check_kind(kind)
    classes = list(KINDS[kind]) if classes is None else list(classes)
    if not classes:
        raise ValueError(f"classes must not be empty; valid class names are: "
                         f"{', '.join(_valid_classes(kind))}")
    for c in classes:
        _class_index(kind, c)
    check_int("n_per_class", n_per_class, 1)
    check_int("size", size, _MIN_SIZE, _MAX_SIZE)
    check_int("seed", seed, 0)
    out_dir = pathlib.Path(out_dir)
    manifest = _manifest(kind, n_per_class, size, seed, classes)
    if _cache_is_valid(out_dir, manifest):
        return out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "manifest.json").unlink(missing_ok=True)
    jobs = [(c, i) for c in classes for i in range(n_per_class)]
    if progress:
        from offline.progress import progress as progress_bar

        jobs = progress_bar(jobs, desc=f"synthetic {kind}")
    for c in classes:
        (out_dir / c).mkdir(exist_ok=True)
        _remove_stale(out_dir / c, c, n_per_class)
    for c, i in jobs:
        render(kind, c, size=size, seed=seed, index=i).save(out_dir / c / _file_name(c, i))
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir

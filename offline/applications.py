"""Synthetic images for chapter 08: three applications of transfer learning, offline.

Each *case* has one normal class and four abnormal sub-classes, so that a general detector
(normal vs abnormal) can be extended to the sub-classes, as the flower detector is extended to
species in chapter 05:

* ``"defects"``     -- a brushed-metal surface: ``good`` or a ``scratch``, ``crack``, ``hole``
  or ``stain`` (manufacturing inspection, in the spirit of MVTec AD);
* ``"plants"``      -- a leaf on soil: ``healthy``, or ``rust``, ``powdery_mildew``,
  ``leaf_blight`` (diseases) or ``leaf_miner`` (a pest) (in the spirit of PlantVillage);
* ``"radiographs"`` -- a grey-scale chest radiograph: ``no_finding``, or a ``nodule``, an
  ``effusion``, ``cardiomegaly`` or a ``pneumothorax`` (label names as in NIH ChestX-ray14).

The pictures are cartoons of the real thing, drawn so that the sub-classes differ in the
feature a specialist looks at (the shape of a defect, the pattern of a lesion, where an opacity
sits), with random pose, lighting, contrast, blur and noise. They are not medical, agronomic or
industrial data and teach nothing about those domains beyond the workflow.

Images are deterministic in ``(case, class, seed, index)``, like :mod:`offline.synthetic`.
Public API: :data:`CASES`, :data:`NORMAL`, :func:`render`, :func:`generate`.
"""

from __future__ import annotations

import json
import math
import pathlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from scipy.ndimage import gaussian_filter

from offline.synthetic import check_int

__all__ = ["CASES", "NORMAL", "render", "generate"]

CASES: dict[str, tuple[str, ...]] = {
    "defects": ("good", "scratch", "crack", "hole", "stain"),
    "plants": ("healthy", "rust", "powdery_mildew", "leaf_blight", "leaf_miner"),
    "radiographs": ("no_finding", "nodule", "effusion", "cardiomegaly", "pneumothorax"),
}
#: The normal class of each case: what the general detector calls "normal".
NORMAL = {case: names[0] for case, names in CASES.items()}

_CASE_IDS = {"defects": 11, "plants": 12, "radiographs": 13}
_VERSION = 1  # bump whenever the rendered pixels change, to invalidate cached data sets
_MIN_SIZE, _MAX_SIZE = 32, 512
_TAU = 2 * math.pi


# --------------------------------------------------------------------------------------
# Small drawing helpers, on a float canvas of side s (2x the output size)
# --------------------------------------------------------------------------------------
def _canvas_mask(s, draw):
    """A float (s, s) mask in 0..1 drawn by ``draw(ImageDraw, s)`` on a black L image."""
    img = Image.new("L", (s, s), 0)
    draw(ImageDraw.Draw(img), s)
    return np.asarray(img, np.float32) / 255


def _blur(a, radius):
    """Gaussian blur of a float array (values kept as float)."""
    if radius <= 0:
        return a
    return gaussian_filter(a.astype(np.float32), radius, mode="nearest")


def _smooth_noise(rng, s, cells):
    """Low-frequency noise in about -1..1: a (cells x cells) grid upsampled to (s, s)."""
    grid = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((s, s), Image.BICUBIC), np.float32)


def _blob(rng, cx, cy, r, n=16, rough=0.35):
    """Points (normalised) of an irregular closed blob around (cx, cy)."""
    a = np.sort(rng.uniform(0, _TAU, n))
    rr = r * (1 + rough * rng.uniform(-1, 1, n))
    return list(zip(cx + rr * np.cos(a), cy + rr * np.sin(a), strict=True))


def _walk(rng, start, steps, step, turn, heading=None):
    """A random-walk polyline (normalised points) from ``start``."""
    heading = rng.uniform(0, _TAU) if heading is None else heading
    pts = [tuple(start)]
    for _ in range(steps):
        heading += rng.normal(0, turn)
        x, y = pts[-1]
        pts.append((x + step * math.cos(heading), y + step * math.sin(heading)))
    return pts


def _px(pts, s):
    return [(float(x) * s, float(y) * s) for x, y in pts]


def _downsample(rgb, size):
    """Float RGB (s, s, 3) in 0..255 -> uint8 image of ``size`` (LANCZOS)."""
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    return img.resize((size, size), Image.LANCZOS)


def _camera(img, rng, size, noise=(1.0, 6.0)):
    """Blur, exposure, contrast and sensor noise, at the output size."""
    if rng.random() < 0.5:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 1.0) * size / 128))
    a = np.asarray(img, np.float32)
    contrast = rng.uniform(0.8, 1.2)
    a = (a - a.mean()) * contrast + a.mean() * rng.uniform(0.85, 1.15)
    a += rng.standard_normal(a.shape, dtype=np.float32) * rng.uniform(*noise)
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


# --------------------------------------------------------------------------------------
# Manufacturing: brushed metal with defects
# --------------------------------------------------------------------------------------
_METALS = [(168, 170, 176), (140, 142, 150), (190, 186, 178), (120, 124, 130), (176, 160, 140)]


def _metal(rng, s):
    """A brushed-metal surface: grain along a random direction, uneven light, specks."""
    big = int(s * 1.5)
    grain = rng.normal(0, 1, (big, 1)).astype(np.float32) * np.ones((1, big), np.float32)
    grain = 0.6 * grain + 0.4 * rng.normal(0, 1, (big, big)).astype(np.float32)
    grain_img = Image.fromarray(_blur(grain, 0.6), "F")
    grain_img = grain_img.rotate(rng.uniform(0, 180), resample=Image.BILINEAR)
    off = (big - s) // 2
    grain = np.asarray(grain_img, np.float32)[off:off + s, off:off + s]
    base = np.asarray(_METALS[rng.integers(len(_METALS))], np.float32)
    base = base * rng.uniform(0.85, 1.15)
    y, x = np.mgrid[0:s, 0:s].astype(np.float32) / s
    a = rng.uniform(0, _TAU)
    light = 1 + rng.uniform(0.05, 0.25) * ((x - 0.5) * math.cos(a) + (y - 0.5) * math.sin(a))
    light += 0.06 * _smooth_noise(rng, s, 4)
    value = light[..., None] * base + rng.uniform(4, 10) * grain[..., None]
    for _ in range(rng.integers(0, 4)):  # harmless dust specks, in every class
        cx, cy = rng.uniform(0.05, 0.95, 2)
        speck = _canvas_mask(s, lambda d, s, cx=cx, cy=cy: d.ellipse(
            [(cx - 0.006) * s, (cy - 0.006) * s, (cx + 0.006) * s, (cy + 0.006) * s], fill=255))
        value *= 1 - 0.3 * speck[..., None]
    return value


def _defect(rng, s, name):
    """(mask, gain, add): the defect's footprint, its multiplicative shade, an added glint."""
    cx, cy = rng.uniform(0.25, 0.75, 2)
    if name == "scratch":  # one long, thin, nearly straight line, bright or dark
        length, angle = rng.uniform(0.35, 0.7), rng.uniform(0, math.pi)
        bend = rng.normal(0, 0.04, 2)
        p0 = np.array([cx - length / 2 * math.cos(angle), cy - length / 2 * math.sin(angle)])
        p2 = np.array([cx + length / 2 * math.cos(angle), cy + length / 2 * math.sin(angle)])
        p1 = (p0 + p2) / 2 + bend
        t = np.linspace(0, 1, 12)[:, None]
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
        width = max(1, round(rng.uniform(0.006, 0.012) * s))
        mask = _canvas_mask(s, lambda d, s: d.line(_px(pts, s), fill=255, width=width))
        bright = rng.random() < 0.5
        return _blur(mask, 0.5), (1.0 if bright else 0.7), (45.0 if bright else 0.0)
    if name == "crack":  # a dark jagged line with a branch or two
        pts = _walk(rng, (cx, cy), int(rng.integers(8, 14)), rng.uniform(0.025, 0.04), 0.6)
        branches = []
        for _ in range(rng.integers(1, 3)):
            start = pts[rng.integers(2, len(pts) - 1)]
            branches.append(_walk(rng, start, int(rng.integers(3, 6)), 0.025, 0.7))
        width = max(1, round(rng.uniform(0.008, 0.014) * s))

        def draw(d, s):
            d.line(_px(pts, s), fill=255, width=width, joint="curve")
            for b in branches:
                d.line(_px(b, s), fill=255, width=max(1, width - 1), joint="curve")
        return _canvas_mask(s, draw), 0.45, 0.0
    if name == "hole":  # one or two small round pits: dark core, bright rim
        mask, rim = np.zeros((s, s), np.float32), np.zeros((s, s), np.float32)
        for i in range(rng.integers(1, 3)):
            r = rng.uniform(0.018, 0.035)
            hx, hy = (cx, cy) if i == 0 else rng.uniform(0.2, 0.8, 2)
            box = [(hx - r) * s, (hy - r) * s, (hx + r) * s, (hy + r) * s]
            ring = [(hx - 1.35 * r) * s, (hy - 1.35 * r) * s, (hx + 1.35 * r) * s,
                    (hy + 1.35 * r) * s]
            mask = np.maximum(mask, _canvas_mask(s, lambda d, s, b=box: d.ellipse(b, fill=255)))
            rim = np.maximum(rim, _canvas_mask(s, lambda d, s, b=ring: d.ellipse(b, fill=255)))
        return _blur(mask, 0.6), 0.15, 60.0 * _blur(rim - mask, 0.8)
    # stain: an irregular, soft-edged discoloured patch
    pts = _blob(rng, cx, cy, rng.uniform(0.09, 0.18))
    mask = _blur(_canvas_mask(s, lambda d, s: d.polygon(_px(pts, s), fill=255)), s * 0.02)
    return mask, rng.uniform(0.68, 0.84), 0.0


def _render_defects(rng, class_name, size):
    s = 2 * size
    value = _metal(rng, s)
    if class_name != "good":
        mask, gain, add = _defect(rng, s, class_name)
        tint = np.array([1.0, 0.92, 0.8], np.float32) if class_name == "stain" else 1.0
        shade = 1 - mask[..., None] * (1 - gain * tint)
        value = value * shade + (add * mask)[..., None] if np.isscalar(add) else (
            value * shade + add[..., None])
    return _camera(_downsample(value, size), rng, size, noise=(1.0, 4.0))


# --------------------------------------------------------------------------------------
# Agriculture: a leaf, healthy or with a disease or pest
# --------------------------------------------------------------------------------------
_LEAF_GREENS = [(62, 128, 50), (84, 140, 60), (50, 110, 46), (98, 150, 70), (70, 120, 58)]
_SOILS = [(92, 70, 50), (120, 96, 70), (70, 56, 44), (140, 130, 110), (60, 80, 52)]


def _leaf_shape(rng):
    """Leaf outline (normalised points), its centre, axis angle, length and width."""
    cx, cy = rng.uniform(0.4, 0.6, 2)
    angle = rng.uniform(0, _TAU)
    length, width = rng.uniform(0.62, 0.8), rng.uniform(0.28, 0.38)
    t = np.linspace(0, math.pi, 24)
    half = width / 2 * np.sin(t) ** rng.uniform(0.7, 1.1)  # pointed tip, rounded base
    xs = length * (np.cos(t) * -0.5)
    upper = np.stack([xs, half], 1)
    lower = np.stack([xs[::-1], -half[::-1]], 1)
    local = np.concatenate([upper, lower])
    c, s_ = math.cos(angle), math.sin(angle)
    pts = local @ np.array([[c, s_], [-s_, c]]) + [cx, cy]
    return [tuple(p) for p in pts], (cx, cy), angle, length, width


def _on_leaf(rng, centre, angle, length, width):
    """A random point inside the leaf (normalised)."""
    u, v = rng.uniform(-0.4, 0.4) * length, rng.uniform(-0.3, 0.3) * width
    return (centre[0] + u * math.cos(angle) - v * math.sin(angle),
            centre[1] + u * math.sin(angle) + v * math.cos(angle))


def _render_plants(rng, class_name, size):
    s = 2 * size
    soil = np.asarray(_SOILS[rng.integers(len(_SOILS))], np.float32) * rng.uniform(0.8, 1.2)
    value = soil * (1 + 0.15 * _smooth_noise(rng, s, 8))[..., None]
    value += rng.normal(0, 6, (s, s, 1)).astype(np.float32)
    pts, centre, angle, length, width = _leaf_shape(rng)
    leaf = _blur(_canvas_mask(s, lambda d, s: d.polygon(_px(pts, s), fill=255)), 0.7)
    green = np.asarray(_LEAF_GREENS[rng.integers(len(_LEAF_GREENS))], np.float32)
    green = green * rng.uniform(0.85, 1.15) * (1 + 0.08 * _smooth_noise(rng, s, 5))[..., None]
    tip = (centre[0] + length / 2 * math.cos(angle), centre[1] + length / 2 * math.sin(angle))
    base = (centre[0] - length / 2 * math.cos(angle), centre[1] - length / 2 * math.sin(angle))

    def veins(d, s):
        d.line(_px([base, tip], s), fill=255, width=max(1, round(0.012 * s)))
        for f in np.linspace(0.2, 0.8, 5):
            p = (base[0] + f * (tip[0] - base[0]), base[1] + f * (tip[1] - base[1]))
            for side in (-1, 1):
                a = angle + side * 0.9
                q = (p[0] + 0.14 * width * 2 * math.cos(a), p[1] + 0.14 * width * 2 * math.sin(a))
                d.line(_px([p, q], s), fill=150, width=max(1, round(0.006 * s)))
    vein = _canvas_mask(s, veins) * leaf
    green = green * (1 + 0.25 * vein[..., None])
    lesion = np.zeros((s, s), np.float32)
    colour = np.zeros(3, np.float32)
    if class_name == "rust":  # many small orange-brown pustules
        spots = [_on_leaf(rng, centre, angle, length, width) for _ in range(rng.integers(18, 40))]
        radii = rng.uniform(0.008, 0.016, len(spots))
        lesion = _canvas_mask(s, lambda d, s: [d.ellipse(
            [(x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s], fill=255)
            for (x, y), r in zip(spots, radii, strict=True)])
        colour = np.array([200, 110, 40], np.float32)
    elif class_name == "powdery_mildew":  # diffuse white patches
        blobs = [_blob(rng, *_on_leaf(rng, centre, angle, length, width),
                       rng.uniform(0.04, 0.08)) for _ in range(rng.integers(3, 7))]
        lesion = _canvas_mask(s, lambda d, s: [d.polygon(_px(b, s), fill=200) for b in blobs])
        lesion = _blur(lesion, s * 0.015)
        colour = np.array([235, 235, 225], np.float32)
    elif class_name == "leaf_blight":  # a few large brown lesions with a yellow halo
        blobs = [_blob(rng, *_on_leaf(rng, centre, angle, length, width),
                       rng.uniform(0.05, 0.09)) for _ in range(rng.integers(1, 3))]
        halo = _blur(_canvas_mask(s, lambda d, s: [d.polygon(_px(b, s), fill=255)
                                                   for b in blobs]), s * 0.02)
        green = green * (1 - 0.6 * halo[..., None] * leaf[..., None]) + (
            np.array([200, 190, 60], np.float32) * 0.6 * (halo * leaf)[..., None])
        lesion = _canvas_mask(s, lambda d, s: [d.polygon(_px(b, s), fill=255) for b in blobs])
        lesion = _blur(lesion, 0.8)
        colour = np.array([96, 62, 34], np.float32)
    elif class_name == "leaf_miner":  # winding pale tunnels
        trails = [_walk(rng, _on_leaf(rng, centre, angle, length, width), 14, 0.02, 0.7)
                  for _ in range(rng.integers(1, 3))]
        w = max(1, round(0.012 * s))
        lesion = _canvas_mask(s, lambda d, s: [d.line(_px(t, s), fill=255, width=w,
                                                      joint="curve") for t in trails])
        lesion = _blur(lesion, 0.6)
        colour = np.array([225, 220, 170], np.float32)
    lesion = lesion * leaf
    green = green * (1 - lesion[..., None]) + colour * lesion[..., None]
    value = value * (1 - leaf[..., None]) + green * leaf[..., None]
    return _camera(_downsample(value, size), rng, size)


# --------------------------------------------------------------------------------------
# Medical imaging: a chest radiograph (grey) with or without a finding
# --------------------------------------------------------------------------------------
def _render_radiographs(rng, class_name, size):
    s = 2 * size
    cx = 0.5 + rng.normal(0, 0.02)
    top = 0.12 + rng.normal(0, 0.02)
    thorax_w = rng.uniform(0.72, 0.84)
    img = np.full((s, s), rng.uniform(10, 30), np.float32)
    body = _canvas_mask(s, lambda d, s: d.rounded_rectangle(
        [(cx - thorax_w / 2) * s, top * s, (cx + thorax_w / 2) * s, 1.1 * s],
        radius=0.18 * s, fill=255))
    img += _blur(body, s * 0.02) * rng.uniform(120, 150)
    lung_w, lung_h = thorax_w * rng.uniform(0.3, 0.34), rng.uniform(0.55, 0.62)
    lung_top = top + 0.06
    gap = thorax_w * 0.09
    lungs, lung_boxes = [], []
    for side in (-1, 1):
        x0 = cx + side * gap if side > 0 else cx - gap - lung_w
        box = [x0, lung_top, x0 + lung_w, lung_top + lung_h]
        lung_boxes.append(box)
        lungs.append(_canvas_mask(s, lambda d, s, b=box: d.ellipse(
            [b[0] * s, b[1] * s, b[2] * s, (b[3] + 0.25 * lung_h) * s], fill=255)))
    dome = _canvas_mask(s, lambda d, s: d.rectangle([0, (lung_top + lung_h) * s, s, s],
                                                    fill=255))
    lungs = [np.clip(lung - dome, 0, 1) for lung in lungs]
    markings = _canvas_mask(s, lambda d, s: [d.line(_px(_walk(
        rng, ((b[0] + b[2]) / 2 + rng.normal(0, 0.03), b[1] + 0.5 * lung_h), 6, 0.03, 0.5,
        heading=rng.uniform(0, _TAU)), s), fill=255, width=1) for b in lung_boxes
        for _ in range(6)])
    markings = _blur(markings, 0.7)
    if class_name == "pneumothorax":  # one lung partly collapsed: a dark rim without markings
        side = int(rng.integers(2))
        b = lung_boxes[side]
        rim_w = lung_w * rng.uniform(0.3, 0.45)
        inner = [b[0] + rim_w, b[1] + rim_w * 0.8, b[2] - rim_w * 0.2, b[3] + 0.1 * lung_h] \
            if side == 0 else [b[0] + rim_w * 0.2, b[1] + rim_w * 0.8, b[2] - rim_w,
                               b[3] + 0.1 * lung_h]
        collapsed = _canvas_mask(s, lambda d, s: d.ellipse([v * s for v in inner], fill=255))
        free_air = np.clip(lungs[side] - collapsed, 0, 1)
        markings = markings * (1 - free_air)
        edge = _canvas_mask(s, lambda d, s: d.ellipse([v * s for v in inner], outline=255,
                                                      width=max(1, round(0.006 * s))))
        img += 30 * edge * lungs[side]
        img -= 38 * _blur(free_air, 1.0)
    lung_all = np.clip(lungs[0] + lungs[1], 0, 1)
    img -= _blur(lung_all, s * 0.012) * rng.uniform(70, 95)
    img += 22 * markings * lung_all
    for side in (-1, 1):  # ribs: bright arcs across each lung
        for k in range(8):
            y = lung_top + (k + 0.5) * lung_h / 8
            x0 = cx + side * 0.02
            x1 = cx + side * (thorax_w / 2 - 0.01)
            pts = [(x0, y), ((x0 + x1) / 2, y - 0.035), (x1, y + 0.05)]
            rib = _canvas_mask(s, lambda d, s, p=pts: d.line(_px(p, s), fill=255,
                                                            width=max(1, round(0.014 * s))))
            img += 16 * _blur(rib, 0.8)
    spine = _canvas_mask(s, lambda d, s: d.rectangle(
        [(cx - 0.04) * s, top * s, (cx + 0.04) * s, s], fill=255))
    img += 40 * _blur(spine, s * 0.01)
    ratio = rng.uniform(0.44, 0.54) if class_name == "cardiomegaly" else rng.uniform(0.3, 0.37)
    heart_w = ratio * thorax_w
    heart_h = heart_w * rng.uniform(0.75, 0.9)
    hx = cx + heart_w * 0.18
    hy = lung_top + lung_h - heart_h * 0.45
    heart = _canvas_mask(s, lambda d, s: d.ellipse(
        [(hx - heart_w / 2) * s, (hy - heart_h / 2) * s, (hx + heart_w / 2) * s,
         (hy + heart_h / 2) * s], fill=255))
    img += 75 * _blur(heart, s * 0.01) * (0.4 + 0.6 * lung_all + 0.6 * (1 - lung_all))
    if class_name == "nodule":
        b = lung_boxes[int(rng.integers(2))]
        nx = rng.uniform(b[0] + 0.25 * lung_w, b[2] - 0.25 * lung_w)
        ny = rng.uniform(b[1] + 0.2 * lung_h, b[3] - 0.35 * lung_h)
        r = rng.uniform(0.028, 0.045)
        nod = _canvas_mask(s, lambda d, s: d.ellipse(
            [(nx - r) * s, (ny - r) * s, (nx + r) * s, (ny + r) * s], fill=255))
        img += rng.uniform(45, 65) * _blur(nod, s * 0.006)
    if class_name == "effusion":  # fluid at one lung base, with a meniscus
        side = int(rng.integers(2))
        b = lung_boxes[side]
        level = b[3] - rng.uniform(0.22, 0.35) * lung_h
        lateral = b[0] if side == 0 else b[2]
        medial = b[2] if side == 0 else b[0]
        curve = [(medial, level + 0.04), ((medial + lateral) / 2, level + 0.02),
                 (lateral, level - 0.08), (lateral, 1.0), (medial, 1.0)]
        fluid = _canvas_mask(s, lambda d, s: d.polygon(_px(curve, s), fill=255)) * lungs[side]
        img += rng.uniform(65, 85) * _blur(fluid, s * 0.008)
    img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 3, (s, s)).astype(np.float32)
    grey = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "L")
    background = int(np.clip(img[0, 0], 0, 255))
    zoom = rng.uniform(0.85, 1.1)  # patient size and distance to the detector vary
    side = round(s * zoom)
    placed = Image.new("L", (s, s), background)
    dx, dy = (rng.normal(0, 0.04, 2) * s + (s - side) / 2).round().astype(int)
    placed.paste(grey.resize((side, side), Image.BILINEAR), (int(dx), int(dy)))
    grey = placed.rotate(rng.normal(0, 4), resample=Image.BILINEAR, fillcolor=background)
    return _camera(grey.convert("RGB").resize((size, size), Image.LANCZOS), rng, size,
                   noise=(1.0, 5.0)).convert("L").convert("RGB")


_RENDERERS = {"defects": _render_defects, "plants": _render_plants,
              "radiographs": _render_radiographs}


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------
def _check(case, class_name=None):
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; valid cases are: {', '.join(CASES)}")
    if class_name is not None and class_name not in CASES[case]:
        raise ValueError(f"unknown class {class_name!r} for case {case!r}; valid class names "
                         f"are: {', '.join(CASES[case])}")


def render(case: str, class_name: str, size: int = 64, seed: int = 0,
           index: int = 0) -> Image.Image:
    """One RGB image of ``class_name`` in ``case``, deterministic in (case, class, seed, index).

    Radiographs are grey (three equal channels), as a chest X-ray saved as RGB would be.
    """
    _check(case, class_name)
    check_int("size", size, _MIN_SIZE, _MAX_SIZE)
    check_int("seed", seed, 0)
    check_int("index", index, 0)
    ss = np.random.SeedSequence([int(seed), _CASE_IDS[case], CASES[case].index(class_name),
                                 int(index)])
    return _RENDERERS[case](np.random.default_rng(ss), class_name, int(size))


def generate(case: str, out_dir, n_per_class: int = 40, size: int = 64, seed: int = 0,
             progress: bool = True) -> pathlib.Path:
    """Write an ImageFolder tree ``out_dir/<class>/<class>_<index:04d>.png`` for one case.

    A ``manifest.json`` is written last; when it matches (and the images are there) the call
    returns at once without re-rendering.
    """
    _check(case)
    check_int("n_per_class", n_per_class, 1)
    check_int("size", size, _MIN_SIZE, _MAX_SIZE)
    check_int("seed", seed, 0)
    out_dir = pathlib.Path(out_dir)
    manifest = {"generator": "offline.applications", "version": _VERSION, "case": case,
                "n_per_class": int(n_per_class), "size": int(size), "seed": int(seed),
                "classes": list(CASES[case])}
    path = out_dir / "manifest.json"
    try:
        if json.loads(path.read_text()) == manifest:
            return out_dir
    except (OSError, ValueError):
        pass
    out_dir.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    jobs = [(c, i) for c in CASES[case] for i in range(n_per_class)]
    if progress:
        from offline.progress import progress as progress_bar

        jobs = progress_bar(jobs, desc=f"synthetic {case}")
    for c in CASES[case]:
        folder = out_dir / c
        folder.mkdir(exist_ok=True)
        for old in folder.glob(f"{c}_*.png"):  # a smaller run must not keep a larger one's
            old.unlink()
    for c, i in jobs:
        render(case, c, size=size, seed=seed, index=i).save(out_dir / c / f"{c}_{i:04d}.png")
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    return out_dir

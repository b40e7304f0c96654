"""Matplotlib helpers for the course notebooks.

Every plotting function returns a :class:`matplotlib.figure.Figure` and never calls
``plt.show()``. Figures are created through pyplot (so the notebook backend is set up) and
then immediately closed in pyplot's registry: a notebook shows the figure once when it is
the value of the last line of a cell, or wherever you call ``display(fig)``. They also work
headless (Agg backend, papermill) and can be written to disk with :func:`savefig`.

Images, features and weights may be given as numpy arrays, lists or torch tensors.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.metrics import ConfusionMatrixDisplay
from threadpoolctl import threadpool_limits

CORRECT_COLOR = "tab:green"
WRONG_COLOR = "tab:red"
_METRIC_LABELS = {"acc": "accuracy", "loss": "loss", "seconds": "seconds"}


# ----------------------------------------------------------------------------- helpers


def _to_numpy(x) -> np.ndarray:
    """Convert a torch tensor (any device/dtype), PIL image, list or array to numpy."""
    if hasattr(x, "detach"):  # torch tensor, without importing torch
        x = x.detach().cpu()
        x = x.float() if x.is_floating_point() else x
        return x.numpy()
    return np.asarray(x)


def _new_figure(figsize: tuple[float, float], title: str | None = None) -> Figure:
    """A constrained-layout figure that pyplot will not render a second time."""
    fig = plt.figure(figsize=figsize, layout="constrained")
    plt.close(fig)  # the caller displays the returned figure
    if title:
        fig.suptitle(title)
    return fig


def _image_grid(n: int, ncols: int, cell: float, title: str | None) -> tuple[Figure, list]:
    """Figure with ``n`` tick-less axes laid out in rows of ``ncols``."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = _new_figure((ncols * cell, nrows * cell + (0.4 if title else 0)), title)
    axes = list(fig.subplots(nrows, ncols, squeeze=False).ravel())
    for ax in axes[n:]:
        ax.remove()
    for ax in axes[:n]:
        ax.set(xticks=[], yticks=[])
    return fig, axes[:n]


def _as_image_list(images) -> list:
    """Split a batch (N,C,H,W tensor, N,H,W,C array, list) into a list of single images."""
    if isinstance(images, Sequence) and not isinstance(images, str):
        return list(images)
    if hasattr(images, "size") and not hasattr(images, "ndim"):  # single PIL image
        return [images]
    is_tensor = hasattr(images, "detach")
    ndim = images.ndim
    if ndim == 4 or (ndim == 3 and not is_tensor and images.shape[-1] not in (1, 3, 4)):
        return list(images)
    return [images]


def _image_to_array(img, mean=None, std=None) -> np.ndarray:
    """One image (PIL, HWC/CHW array or CHW tensor) -> float HxWxC (or HxW) array in [0, 1].

    ``mean``/``std`` (per channel) undo a ``Normalize`` transform; they are ignored for
    PIL images and uint8 arrays, which cannot be normalised.
    """
    is_tensor = hasattr(img, "detach")
    arr = _to_numpy(img)
    if arr.ndim == 3 and (is_tensor or (arr.shape[0] in (1, 3) and arr.shape[-1] > 4)):
        arr = arr.transpose(1, 2, 0)  # CHW -> HWC
    if arr.dtype == np.uint8:
        arr = arr / 255.0
    else:
        arr = arr.astype(np.float32)
        if std is not None:
            arr = arr * np.asarray(std, dtype=np.float32)
        if mean is not None:
            arr = arr + np.asarray(mean, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    return np.clip(arr, 0.0, 1.0)


def _show(ax, img: np.ndarray, **kwargs) -> None:
    ax.imshow(img, cmap="gray" if img.ndim == 2 else None, **kwargs)


# ----------------------------------------------------------------------------- images


def show_images(images, titles=None, ncols: int = 8, title: str | None = None,
                mean=None, std=None) -> Figure:
    """Show images in a grid.

    Args:
        images: list of PIL images / HxWx3 arrays / CHW tensors, an (N,H,W,3) array or an
            (N,3,H,W) tensor batch.
        titles: optional per-image titles (e.g. class names).
        ncols: images per row.
        title: figure title (default: "N images").
        mean, std: per-channel normalisation to undo for float tensors/arrays,
            e.g. ImageNet ``(0.485, 0.456, 0.406)`` / ``(0.229, 0.224, 0.225)``.
    """
    images = _as_image_list(images)
    fig, axes = _image_grid(len(images), ncols, cell=1.8, title=title or f"{len(images)} images")
    for i, (ax, img) in enumerate(zip(axes, images, strict=True)):
        _show(ax, _image_to_array(img, mean, std))
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=9)
    return fig


def plot_predictions(images, y_true, y_pred, class_names, probs=None, ncols: int = 6,
                     mean=None, std=None, title: str | None = None) -> Figure:
    """Grid of images titled "predicted (prob) / true", green when correct, red when wrong.

    Args:
        images: as for :func:`show_images`.
        y_true, y_pred: integer class indices, length N.
        class_names: index -> name.
        probs: optional probabilities, either (N,) for the predicted class or (N, C).
        ncols, mean, std: as for :func:`show_images`.
        title: figure title (default: "Predictions: k/N correct").
    """
    images = _as_image_list(images)
    y_true, y_pred = _to_numpy(y_true).astype(int), _to_numpy(y_pred).astype(int)
    if probs is not None:
        probs = _to_numpy(probs)
        if probs.ndim == 2:
            probs = probs[np.arange(len(y_pred)), y_pred]
    n_ok = int((y_true == y_pred).sum())
    title = title or f"Predictions: {n_ok}/{len(images)} correct"
    fig, axes = _image_grid(len(images), ncols, cell=2.2, title=title)
    for i, (ax, img) in enumerate(zip(axes, images, strict=True)):
        _show(ax, _image_to_array(img, mean, std))
        color = CORRECT_COLOR if y_true[i] == y_pred[i] else WRONG_COLOR
        pred = class_names[y_pred[i]]
        if probs is not None:
            pred += f" ({probs[i]:.0%})"
        ax.set_title(f"pred: {pred}\ntrue: {class_names[y_true[i]]}", color=color, fontsize=8)
        for spine in ax.spines.values():
            spine.set(edgecolor=color, linewidth=3)
    return fig


def plot_filters(weight, ncols: int = 8, title: str | None = None) -> Figure:
    """Show first-layer conv filters from a weight of shape (out, in, kh, kw).

    With 3 input channels each filter is an RGB patch, min-max normalised per filter;
    otherwise channel 0 is shown in grayscale. Pixels are upscaled with nearest
    interpolation. E.g. ``plot_filters(model.conv1.weight)``.
    """
    w = _to_numpy(weight).astype(np.float32)
    n_out, n_in, kh, kw = w.shape
    if n_in == 3:
        patches = w.transpose(0, 2, 3, 1)
        lo = patches.min(axis=(1, 2, 3), keepdims=True)
        span = np.ptp(patches, axis=(1, 2, 3), keepdims=True)
        patches = (patches - lo) / np.where(span > 0, span, 1)
    else:
        patches = w[:, 0]
    title = title or f"First-layer filters ({n_out}x{n_in}x{kh}x{kw})"
    fig, axes = _image_grid(n_out, ncols, cell=0.9, title=title)
    for ax, patch in zip(axes, patches, strict=True):
        _show(ax, patch, interpolation="nearest")
        ax.set_axis_off()
    return fig


def plot_feature_maps(maps, titles=None, n_channels: int = 6, title: str | None = None,
                      top_variance: bool = False) -> Figure:
    """One row per network depth showing ``n_channels`` channels as grayscale images.

    Args:
        maps: list of activations, each (C,H,W) or (1,C,H,W), e.g. from forward hooks.
        titles: per-depth names (default "depth 1", "depth 2", ...). Each row is labelled
            like "stage 1: 112x112, 16 channels".
        n_channels: channels shown per row.
        title: figure title (default "Feature maps").
        top_variance: show the highest-variance channels instead of the first ones.
    """
    maps = [_to_numpy(m).astype(np.float32) for m in maps]
    titles = titles or [f"depth {i + 1}" for i in range(len(maps))]
    fig = _new_figure((1.6 * n_channels, 2.0 * len(maps) + 0.4), title or "Feature maps")
    subfigs = fig.subfigures(len(maps), 1, squeeze=False).ravel()
    for subfig, fmap, name in zip(subfigs, maps, titles, strict=True):
        fmap = fmap.reshape(fmap.shape[-3:])  # drop a leading batch dim of 1
        n_ch, h, w = fmap.shape
        subfig.suptitle(f"{name}: {h}x{w}, {n_ch} channels", fontsize=10)
        order = np.argsort(-fmap.var(axis=(1, 2))) if top_variance else np.arange(n_ch)
        axes = subfig.subplots(1, n_channels, squeeze=False)[0]
        for ax, ch in zip(axes, order, strict=False):
            ax.imshow(fmap[ch], cmap="gray")
            ax.set(xticks=[], yticks=[])
            ax.set_title(f"ch {ch}", fontsize=8)
        for ax in axes[n_ch:]:
            ax.remove()
    return fig


# ----------------------------------------------------------------------------- metrics


def plot_history(histories, metrics=("loss", "acc"), title: str | None = None) -> Figure:
    """Learning curves: one subplot per metric, train dashed / val solid, a colour per run.

    Args:
        histories: dict run name -> history, where a history is a list of per-epoch dicts
            such as ``{"epoch": 1, "train_loss": .., "val_loss": .., "train_acc": ..,
            "val_acc": .., "seconds": ..}``. A single history (list) is also accepted.
            Missing keys are skipped; a metric without ``train_``/``val_`` keys is looked
            up by its own name (e.g. ``"seconds"``).
        metrics: metric names to plot, e.g. ``("loss", "acc", "seconds")``.
        title: figure title (default "Learning curves").
    """
    if not isinstance(histories, Mapping):
        histories = {"model": histories}
    styles = {"train": "--", "val": "-", "": "-"}
    present = [m for m in metrics
               if any(k in rec for h in histories.values() for rec in h
                      for k in (f"train_{m}", f"val_{m}", m))]
    if not present:
        raise ValueError(f"none of the metrics {metrics} found in the histories")
    fig = _new_figure((5 * len(present), 4), title or "Learning curves")
    for ax, metric in zip(fig.subplots(1, len(present), squeeze=False)[0], present, strict=True):
        for i, (name, history) in enumerate(histories.items()):
            for split, style in styles.items():
                key = f"{split}_{metric}" if split else metric
                points = [(rec.get("epoch", e + 1), rec[key])
                          for e, rec in enumerate(history) if rec.get(key) is not None]
                if points:
                    xs, ys = zip(*points, strict=True)
                    label = f"{name} {split}".strip()
                    ax.plot(xs, ys, style, color=f"C{i % 10}", marker=".", label=label)
        label = _METRIC_LABELS.get(metric, metric)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    return fig


def plot_confusion_matrix(cm, class_names, normalize: bool = True,
                          title: str | None = None) -> Figure:
    """Confusion-matrix heatmap (rows = true class) with each cell annotated and a colorbar.

    Args:
        cm: (C, C) counts, e.g. from ``sklearn.metrics.confusion_matrix``.
        class_names: C names for the tick labels.
        normalize: divide each row by its total, so the diagonal is per-class recall.
        title: axes title (default "Confusion matrix" + " (row-normalised)").
    """
    cm = _to_numpy(cm)
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        cm = np.divide(cm, totals, out=np.zeros(cm.shape), where=totals > 0)
        fmt = ".2f"
    else:
        fmt = "d" if np.issubdtype(cm.dtype, np.integer) else ".3g"
    n = len(class_names)
    size = min(16.0, max(5.0, 0.45 * n + 2.5))
    fig = _new_figure((size + 1, size))
    ax = fig.subplots()
    disp = ConfusionMatrixDisplay(cm, display_labels=list(class_names))
    disp.plot(ax=ax, cmap="Blues", values_format=fmt, xticks_rotation=45,
              text_kw={"fontsize": 9 if n <= 12 else 6})
    plt.setp(ax.get_xticklabels(), ha="right", rotation_mode="anchor")
    if normalize:
        disp.im_.set_clim(0, 1)
    default = "Confusion matrix" + (" (row-normalised)" if normalize else "")
    ax.set_title(title or default)
    return fig


def plot_embeddings_2d(features, labels, class_names, method: str = "pca",
                       title: str | None = None, ax=None, seed: int = 0) -> Figure:
    """Project (N, D) features to 2-D with PCA or t-SNE and scatter them coloured by class.

    Args:
        features: (N, D) array/tensor, e.g. backbone embeddings.
        labels: N integer class indices.
        class_names: index -> name, used for the legend.
        method: ``"pca"`` or ``"tsne"`` (perplexity ``min(30, (N - 1) / 3)``).
        title: axes title (default e.g. "PCA of 512-d features").
        ax: draw into this axes (e.g. one of two side by side) instead of a new figure.
        seed: random state for the projection.

    Returns:
        The figure containing the axes.
    """
    x = _to_numpy(features).astype(np.float32)
    x = x.reshape(len(x), -1)
    labels = _to_numpy(labels).astype(int)
    if method == "pca":
        pca = PCA(n_components=2, random_state=seed)
        xy = pca.fit_transform(x)
        axis_names = [f"PC {i + 1} ({v:.0%} var)" for i, v in
                      enumerate(pca.explained_variance_ratio_)]
    elif method == "tsne":
        tsne = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3),
                    init="pca", random_state=seed)
        # torch and sklearn each bundle an OpenMP runtime; with both loaded, multi-threaded
        # t-SNE is several times slower than single-threaded on small machines
        with threadpool_limits(1, user_api="openmp"):
            xy = tsne.fit_transform(x)
        axis_names = ["t-SNE 1", "t-SNE 2"]
    else:
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if ax is None:
        ax = _new_figure((6.5, 5)).subplots()
    n_cls = len(class_names)
    cmap = matplotlib.colormaps["tab10" if n_cls <= 10 else "tab20" if n_cls <= 20 else "turbo"]
    colors = cmap.resampled(n_cls)
    for c in np.unique(labels):
        pts = xy[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=12, alpha=0.8, color=colors(c), label=class_names[c])
    name = "PCA" if method == "pca" else "t-SNE"
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1],
           title=title or f"{name} of {x.shape[1]}-d features")
    ax.legend(fontsize="small", markerscale=1.5, ncols=1 + n_cls // 12)
    return ax.get_figure(root=True)


def plot_bars(values: dict[str, float], errors: dict[str, float] | None = None,
              ylabel: str = "", title: str | None = None) -> Figure:
    """Bar chart of named values with optional error bars and each value printed on its bar.

    E.g. ``plot_bars({"linear probe": 0.81, "fine-tune": 0.88}, ylabel="val accuracy")``.
    ``errors`` maps (some) names to a standard deviation. Default title: ``ylabel``.
    """
    names = list(values)
    heights = [float(values[n]) for n in names]
    yerr = [float(errors.get(n, 0.0)) for n in names] if errors else None
    fig = _new_figure((max(4.0, 1.1 * len(names) + 1.5), 4))
    ax = fig.subplots()
    bars = ax.bar(names, heights, yerr=yerr, capsize=5,
                  color=[f"C{i % 10}" for i in range(len(names))])
    # with error bars the value goes inside the bar so it does not collide with the cap
    if errors:
        ax.bar_label(bars, fmt="{:.3g}", label_type="center", color="white", weight="bold")
    else:
        ax.bar_label(bars, fmt="{:.3g}", padding=2)
    if any(len(n) > 10 for n in names):
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right",
                      rotation_mode="anchor")
    ax.margins(y=0.1)
    ax.set(ylabel=ylabel, title=title or ylabel)
    return fig


def plot_xy(series: dict, xlabel: str, ylabel: str, title: str | None = None,
            logx: bool = False, errors: dict | None = None, markers: bool = True) -> Figure:
    """Line plot of several named series, e.g. accuracy vs images per class or vs time.

    Args:
        series: name -> ``(xs, ys)``.
        xlabel, ylabel: axis labels.
        title: axes title (default "<ylabel> vs <xlabel>").
        logx: logarithmic x axis (with plain-number tick labels).
        errors: name -> per-point standard deviation, drawn as a shaded band ``ys ± std``.
        markers: draw a marker at each point.
    """
    fig = _new_figure((6.5, 4.5))
    ax = fig.subplots()
    for i, (name, (xs, ys)) in enumerate(series.items()):
        xs, ys = _to_numpy(xs).astype(float), _to_numpy(ys).astype(float)
        color = f"C{i % 10}"
        ax.plot(xs, ys, marker="o" if markers else None, color=color, label=name)
        if errors and name in errors:
            err = _to_numpy(errors[name]).astype(float)
            ax.fill_between(xs, ys - err, ys + err, color=color, alpha=0.2, linewidth=0)
    if logx:
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter("{x:g}")  # 1, 10, 100 rather than 10^0, 10^1, ...
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title or f"{ylabel} vs {xlabel}")
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


#: The study notes' architecture flow: from the existing CNN to a species endpoint.
TRANSFER_FLOW = (
    ("existing CNN", "the flower detector,\nalready trained"),
    ("frozen feature layers", "its body, weights kept:\nimage -> {feature_dim} numbers"),
    ("retrained classifier", "a new output layer,\none unit per species"),
    ("SageMaker training job", "script mode, spot +\ncheckpoints (chapter 06)"),
    ("species model", "model.tar.gz:\nweights + label map"),
    ("endpoint", "answers 'which species?'\nfor each photo"),
)


def plot_transfer_flow(feature_dim: int = 1280, *, steps=TRANSFER_FLOW,
                       title: str | None = "Transfer learning, from the existing CNN to an "
                                           "endpoint") -> Figure:
    """The notes' architecture flow as boxes and arrows, drawn with matplotlib.

    ``steps`` is a sequence of ``(name, detail)``; ``{feature_dim}`` in a detail is replaced by
    ``feature_dim`` (the length of the body's feature vector: 1280 for EfficientNet-Lite0, 2048
    for ResNet-50). The first three steps run on your machine, the rest on SageMaker.
    """
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    steps = [(name, detail.format(feature_dim=feature_dim)) for name, detail in steps]
    n = len(steps)
    if n < 2:
        raise ValueError(f"A flow needs at least two steps, got {n}.")
    fig = _new_figure((2.3 * n, 2.6), title)
    ax = fig.subplots()
    ax.set(xlim=(0, n), ylim=(0, 1), xticks=[], yticks=[])
    ax.axis("off")
    local = min(3, n)
    for i, (name, detail) in enumerate(steps):
        colour = "tab:blue" if i < local else "tab:orange"
        box = FancyBboxPatch((i + 0.08, 0.22), 0.84, 0.56, boxstyle="round,pad=0.02",
                             facecolor=colour, alpha=0.18, edgecolor=colour, linewidth=1.5)
        ax.add_patch(box)
        ax.text(i + 0.5, 0.66, name, ha="center", va="center", weight="bold", fontsize=9,
                wrap=True)
        ax.text(i + 0.5, 0.42, detail, ha="center", va="center", fontsize=7.5)
        if i < n - 1:
            ax.add_patch(FancyArrowPatch((i + 0.93, 0.5), (i + 1.07, 0.5),
                                         arrowstyle="-|>", mutation_scale=14, color="0.3"))
    ax.text(local / 2, 0.1, "on your machine (chapters 02-05)", ha="center", fontsize=8,
            color="tab:blue")
    if n > local:
        ax.text((local + n) / 2, 0.1, "on SageMaker (chapter 06)", ha="center", fontsize=8,
                color="tab:orange")
    return fig


def savefig(fig: Figure, path) -> Path:
    """Save ``fig`` to ``path`` (parent folders created) at dpi=100; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path

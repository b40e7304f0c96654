"""Tests for utils.plots: each helper on small random inputs, checking what it drew."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import same_color  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from utils import plots  # noqa: E402

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _images(fig):
    return [im for ax in fig.axes for im in ax.get_images()]


def test_show_images_tensor_batch_unnormalised():
    batch = torch.randn(5, 3, 16, 12)
    fig = plots.show_images(batch, titles=list("abcde"), ncols=3, mean=MEAN, std=STD,
                            title="batch")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 5  # unused grid cells are removed
    assert [ax.get_title() for ax in fig.axes] == list("abcde")
    assert fig.get_suptitle() == "batch"
    data = _images(fig)[0].get_array()
    assert data.shape == (16, 12, 3)
    assert data.min() >= 0 and data.max() <= 1
    expected = np.clip(batch[0].permute(1, 2, 0).numpy() * STD + MEAN, 0, 1)
    np.testing.assert_allclose(data, expected, atol=1e-6)


def test_show_images_mixed_list():
    imgs = [
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)),
        rng.random((8, 8, 3)),
        torch.rand(3, 8, 8),
    ]
    fig = plots.show_images(imgs)
    assert len(_images(fig)) == 3
    assert all(im.get_array().shape == (8, 8, 3) for im in _images(fig))
    assert fig.get_suptitle() == "3 images"


def test_plot_history_lines_and_styles():
    hist_a = [{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_acc": 0.5,
               "val_acc": 0.6, "seconds": 3.0} for e in range(1, 4)]
    hist_b = [{"epoch": e, "train_loss": 2 / e, "val_loss": 2.2 / e} for e in range(1, 5)]
    fig = plots.plot_history({"a": hist_a, "b": hist_b}, metrics=("loss", "acc", "missing"))
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes  # "missing" is skipped
    assert len(loss_ax.get_lines()) == 4 and len(acc_ax.get_lines()) == 2
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel() == "loss"
    assert acc_ax.get_title() == "accuracy"
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert lines["a train"].get_linestyle() == "--" and lines["a val"].get_linestyle() == "-"
    assert lines["a train"].get_color() == lines["a val"].get_color()
    assert lines["a val"].get_color() != lines["b val"].get_color()
    assert list(lines["b val"].get_xdata()) == [1, 2, 3, 4]


def test_plot_history_single_list_and_plain_metric():
    hist = [{"train_loss": 1.0, "seconds": 2.0}, {"train_loss": 0.5, "seconds": 2.5}]
    fig = plots.plot_history(hist, metrics=("loss", "seconds"))
    assert [len(ax.get_lines()) for ax in fig.axes] == [1, 1]
    with pytest.raises(ValueError):
        plots.plot_history(hist, metrics=("acc",))


@pytest.mark.parametrize("normalize", [False, True])
def test_plot_confusion_matrix_annotations(normalize):
    cm = np.array([[5, 1, 0], [2, 3, 1], [0, 0, 4]])
    fig = plots.plot_confusion_matrix(cm, ["cat", "dog", "bird"], normalize=normalize)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # heatmap + colorbar
    texts = [t.get_text() for t in ax.texts]
    if normalize:
        expected = cm / cm.sum(axis=1, keepdims=True)
        assert texts == [f"{v:.2f}" for v in expected.ravel()]
        assert "row-normalised" in ax.get_title()
    else:
        assert texts == [str(v) for v in cm.ravel()]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "bird"]
    assert ax.get_xticklabels()[0].get_rotation() == 45
    assert ax.get_xlabel() and ax.get_ylabel()


def test_plot_predictions_colours():
    images = torch.rand(4, 3, 10, 10)
    y_true, y_pred = [0, 1, 2, 1], [0, 2, 2, 0]
    probs = torch.softmax(torch.randn(4, 3), dim=1)
    fig = plots.plot_predictions(images, y_true, y_pred, ["a", "b", "c"], probs=probs)
    assert len(fig.axes) == 4
    assert fig.get_suptitle() == "Predictions: 2/4 correct"
    correct = [t == p for t, p in zip(y_true, y_pred, strict=True)]
    for ax, ok in zip(fig.axes, correct, strict=True):
        color = plots.CORRECT_COLOR if ok else plots.WRONG_COLOR
        assert same_color(ax.title.get_color(), color)
        assert same_color(ax.spines["left"].get_edgecolor(), color)
    p1 = probs[1, 2].item()
    assert fig.axes[1].get_title() == f"pred: c ({p1:.0%})\ntrue: b"


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_plot_embeddings_2d_points(method):
    n = 24
    feats = torch.randn(n, 16)
    labels = np.arange(n) % 3
    fig = plots.plot_embeddings_2d(feats, labels, ["x", "y", "z"], method=method)
    ax = fig.axes[0]
    assert sum(len(c.get_offsets()) for c in ax.collections) == n
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "z"]
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_title()


def test_plot_embeddings_2d_into_given_axes():
    fig, (left, right) = plt.subplots(1, 2)
    feats, labels = rng.normal(size=(10, 5)), [0, 1] * 5
    assert plots.plot_embeddings_2d(feats, labels, ["a", "b"], ax=right, title="r") is fig
    assert right.get_title() == "r" and not left.collections
    with pytest.raises(ValueError):
        plots.plot_embeddings_2d(feats, labels, ["a", "b"], method="umap")


def test_plot_filters_rgb_and_gray():
    fig = plots.plot_filters(torch.randn(10, 3, 5, 5), ncols=4)
    ims = _images(fig)
    assert len(ims) == 10 and len(fig.axes) == 10
    data = ims[0].get_array()
    assert data.shape == (5, 5, 3) and data.min() == 0 and data.max() == pytest.approx(1)
    assert ims[0].get_interpolation() == "nearest"
    assert "10x3x5x5" in fig.get_suptitle()
    gray = _images(plots.plot_filters(rng.normal(size=(4, 16, 3, 3))))
    assert len(gray) == 4 and gray[0].get_array().shape == (3, 3)


def test_plot_feature_maps_rows():
    maps = [torch.randn(1, 16, 28, 28), torch.randn(32, 7, 7), torch.randn(4, 2, 2)]
    fig = plots.plot_feature_maps(maps, titles=["stage 1", "stage 2", "stage 3"],
                                  n_channels=6, top_variance=True)
    assert len(_images(fig)) == 6 + 6 + 4
    labels = [sf.get_suptitle() for sf in fig.subfigs]
    assert labels == ["stage 1: 28x28, 16 channels", "stage 2: 7x7, 32 channels",
                      "stage 3: 2x2, 4 channels"]
    first_row = fig.subfigs[0].axes
    variances = maps[0][0].var(dim=(1, 2))
    shown = [int(ax.get_title().split()[1]) for ax in first_row]
    assert shown == variances.argsort(descending=True)[:6].tolist()


def test_plot_bars_labels_and_errors():
    values, errors = {"linear probe": 0.8123, "fine-tune": 0.9}, {"fine-tune": 0.02}
    fig = plots.plot_bars(values, errors=errors, ylabel="accuracy", title="methods")
    ax = fig.axes[0]
    assert len(ax.patches) == 2
    assert [t.get_text() for t in ax.texts] == ["0.812", "0.9"]
    (bars,) = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars.errorbar.lines[2][0].get_segments()) == 2
    assert ax.get_ylabel() == "accuracy" and ax.get_title() == "methods"
    no_errors = plots.plot_bars({"a": 1.0}).axes[0]
    assert no_errors.containers[0].errorbar is None and no_errors.texts[0].get_text() == "1"


def test_plot_xy_lines_bands_logx():
    series = {"scratch": ([1, 5, 10, 50], [0.2, 0.3, 0.4, 0.6]),
              "pretrained": (np.array([1, 5, 10, 50]), torch.tensor([0.5, 0.7, 0.8, 0.9]))}
    fig = plots.plot_xy(series, "images per class", "accuracy", logx=True,
                        errors={"pretrained": [0.05] * 4})
    ax = fig.axes[0]
    assert [line.get_label() for line in ax.get_lines()] == ["scratch", "pretrained"]
    assert len(ax.collections) == 1  # one error band
    assert ax.get_xscale() == "log"
    assert ax.get_title() == "accuracy vs images per class"
    assert ax.get_lines()[0].get_marker() == "o"
    no_markers = plots.plot_xy(series, "x", "y", markers=False).axes[0]
    assert no_markers.get_lines()[0].get_marker() in ("None", None, "")


def test_savefig_writes_png(tmp_path):
    fig = plots.plot_bars({"a": 1.0, "b": 2.0})
    path = plots.savefig(fig, tmp_path / "nested" / "dir" / "bars.png")
    assert path.exists() and path.stat().st_size > 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

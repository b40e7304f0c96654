"""utils.tradeoffs (chapters 04 and 07) and the architecture-flow figure of utils.plots."""

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

from utils import plots, tradeoffs  # noqa: E402


def test_small_cnn_is_a_small_transfer_model():
    net = tradeoffs.small_cnn(4, in_channels=1)
    assert net(torch.randn(2, 1, 64, 64)).shape == (2, 4)
    assert net.body(torch.randn(2, 1, 32, 32)).shape == (2, 64)  # any size: global pooling
    assert sum(p.numel() for p in net.parameters()) < 100_000 and len(net.stages) == 4


def test_model_size_and_latency_grow_with_the_model():
    small, big = nn.Linear(10, 10), nn.Linear(1000, 1000)
    assert 0 < tradeoffs.model_size_mb(small) < tradeoffs.model_size_mb(big)
    assert tradeoffs.model_size_mb(big) == pytest.approx(4.0, rel=0.05)  # 1M float32 weights
    nets = {"narrow": tradeoffs.small_cnn(3, width=4), "wide": tradeoffs.small_cnn(3, width=64)}
    times = tradeoffs.latency_ms(nets, image_size=64, repeats=3)
    assert set(times) == {"narrow", "wide"} and times["narrow"] < times["wide"], times


def test_int8_quantisation_shrinks_the_weights_and_needs_calibration():
    torch.manual_seed(0)
    net = tradeoffs.small_cnn(3, width=32).eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(32, 3, 32, 32)
    int8 = tradeoffs.quantize_int8(net, [(x, None)], image_size=32)
    assert tradeoffs.model_size_mb(int8) < 0.5 * tradeoffs.model_size_mb(net)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # untouched
    with torch.inference_mode():
        reference = net(x)

        def error(model):
            return ((model(x) - reference).abs().mean() / reference.abs().mean()).item()

        good = error(int8)
        # ranges recorded on images 100 times fainter clip every real activation
        bad = error(tradeoffs.quantize_int8(net, [(x / 100, None)], image_size=32))
    assert good < 0.1 and bad > 3 * good, (good, bad)
    with pytest.raises(ValueError, match="calibration"):
        tradeoffs.quantize_int8(net, [], image_size=32)
    with pytest.raises(ValueError, match="not available"):
        tradeoffs.quantize_int8(net, [(x, None)], image_size=32, backend="tpu")


def test_bn_shift_is_small_for_matching_statistics_and_grows_with_distance():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(3)
    bn.running_mean.fill_(1.0)
    bn.running_var.fill_(4.0)
    body = nn.Sequential(bn)
    matching = 1.0 + 2.0 * torch.randn(64, 3, 8, 8)
    assert tradeoffs.bn_shift(body, matching) < 0.05
    assert tradeoffs.bn_shift(body, matching + 2.0) == pytest.approx(1.0, abs=0.05)
    with pytest.raises(ValueError, match="no BatchNorm2d"):
        tradeoffs.bn_shift(nn.Sequential(nn.Identity()), matching)
    assert not bn._forward_hooks  # the hooks are removed


def test_real_photo_crops_are_offline_photos():
    crops = tradeoffs.real_photo_crops(7, seed=1)
    assert len(crops) == 7 and all(isinstance(c, Image.Image) for c in crops)
    assert all(c.size[0] == c.size[1] and c.mode == "RGB" for c in crops)


def test_transfer_flow_figure_draws_the_notes_boxes():
    fig = plots.plot_transfer_flow(2048)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name in ("existing CNN", "frozen feature layers", "retrained classifier",
                 "SageMaker training job", "species model", "endpoint"):
        assert name in texts
    assert any("2048 numbers" in t for t in texts)
    with pytest.raises(ValueError, match="at least two"):
        plots.plot_transfer_flow(steps=[("only", "one")])

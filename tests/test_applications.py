"""offline.applications: the generated images of chapter 07's three applications."""

import json

import numpy as np
import pytest
from PIL import Image

from offline import applications


def test_cases_have_a_normal_class_and_sub_classes():
    assert set(applications.CASES) == {"defects", "plants", "radiographs"}
    for case, names in applications.CASES.items():
        assert len(names) == len(set(names)) >= 3
        assert applications.NORMAL[case] == names[0]
    assert applications.NORMAL == {"defects": "good", "plants": "healthy",
                                   "radiographs": "no_finding"}


@pytest.mark.parametrize("case", sorted(applications.CASES))
def test_render_is_deterministic_and_sized(case):
    name = applications.CASES[case][-1]
    a = applications.render(case, name, size=48, seed=3, index=2)
    assert isinstance(a, Image.Image) and a.mode == "RGB" and a.size == (48, 48)
    assert np.asarray(a).std() > 5
    assert np.array_equal(np.asarray(a), np.asarray(applications.render(case, name, size=48,
                                                                        seed=3, index=2)))
    assert not np.array_equal(np.asarray(a), np.asarray(applications.render(
        case, name, size=48, seed=3, index=3)))


def test_radiographs_are_grey():
    pixels = np.asarray(applications.render("radiographs", "effusion", size=64)).astype(int)
    assert np.array_equal(pixels[..., 0], pixels[..., 1])
    assert np.array_equal(pixels[..., 1], pixels[..., 2])


def test_abnormal_images_differ_from_normal_ones():
    """Averaged over images, each sub-class leaves its mark on the picture."""
    for case, names in applications.CASES.items():
        mean = {n: np.mean([np.asarray(applications.render(case, n, size=32, index=i),
                                       dtype=float) for i in range(6)], axis=0)
                for n in names}
        for name in names[1:]:
            assert np.abs(mean[name] - mean[names[0]]).mean() > 0.5, (case, name)


def test_generate_writes_an_image_folder_once(tmp_path):
    out = applications.generate("plants", tmp_path / "p", n_per_class=2, size=32, seed=1,
                                progress=False)
    for name in applications.CASES["plants"]:
        assert sorted(p.name for p in (out / name).iterdir()) == [f"{name}_0000.png",
                                                                  f"{name}_0001.png"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n_per_class"] == 2 and manifest["case"] == "plants"
    stamp = (out / "healthy" / "healthy_0000.png").stat().st_mtime_ns
    applications.generate("plants", out, n_per_class=2, size=32, seed=1, progress=False)
    assert (out / "healthy" / "healthy_0000.png").stat().st_mtime_ns == stamp  # cached
    applications.generate("plants", out, n_per_class=1, size=32, seed=1, progress=False)
    assert not (out / "healthy" / "healthy_0001.png").exists()  # a smaller run replaces it


def test_bad_arguments_say_what_is_valid():
    with pytest.raises(ValueError, match="valid cases"):
        applications.render("satellites", "x")
    with pytest.raises(ValueError, match="valid class names"):
        applications.render("defects", "dent")
    with pytest.raises(ValueError, match="size"):
        applications.render("defects", "good", size=8)
    with pytest.raises(ValueError, match="n_per_class"):
        applications.generate("defects", "/tmp/never", n_per_class=0)


def test_application_sources_load_through_utils(tmp_path):
    """Chapters get the generated applications from utils.data, never from offline/."""
    from utils import data

    splits = data.load_dataset("synthetic_radiographs", data_root=tmp_path, render_size=32,
                               n_per_class=8, seed=0)
    assert tuple(splits.classes) == tuple(sorted(applications.CASES["radiographs"]))
    assert len(splits.train) + len(splits.val) + len(splits.test) == 8 * len(splits.classes)
    with pytest.raises(data.DataError, match="Unknown application"):
        data.application_classes("x-rays")

"""Unit tests for utils.data: ImageFolder validation, splits, sources and transforms."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from photos import save_sideways
from PIL import Image

from utils import checkpoint, data


def make_folder(root, classes=("a", "b", "c"), n=8, size=40, ext="png"):
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
            Image.fromarray(arr).save(root / c / f"{c}_{i}.{ext}")
    return root


def test_scan_finds_classes_and_images(tmp_path):
    classes, samples, skipped = data.scan_image_folder(make_folder(tmp_path))
    assert classes == ["a", "b", "c"] and len(samples) == 24 and skipped == {}
    assert {label for _, label in samples} == {0, 1, 2}


def test_corrupt_and_non_image_files_are_skipped_and_counted(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "a" / "broken.jpg").write_bytes(b"not really a jpeg")
    (tmp_path / "b" / "notes.txt").write_text("ignore me")
    with pytest.warns(UserWarning, match="Skipped 1 unreadable"):
        classes, samples, skipped = data.scan_image_folder(tmp_path)
    assert len(samples) == 24 and list(skipped) == [str(tmp_path / "a" / "broken.jpg")]
    assert "corrupt or not an image" in skipped[str(tmp_path / "a" / "broken.jpg")]


@pytest.mark.parametrize("setup, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.mkdir(), "No class folders"),
    (lambda p: make_folder(p, classes=("only",)), "at least two"),
])
def test_bad_folders_get_clear_errors(tmp_path, setup, message):
    root = tmp_path / "photos"
    setup(root)
    with pytest.raises(data.DataError, match=message):
        data.scan_image_folder(root)


def test_loose_images_get_a_layout_hint(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "cat.png")
    with pytest.raises(data.DataError, match="move them into one sub-folder per class"):
        data.scan_image_folder(tmp_path)


def test_empty_class_folder_is_ignored_with_warning(tmp_path):
    make_folder(tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.warns(UserWarning, match="no readable images: empty"):
        classes, _, _ = data.scan_image_folder(tmp_path)
    assert classes == ["a", "b", "c"]


def test_split_is_stratified_disjoint_and_seeded(tmp_path):
    make_folder(tmp_path, n=20)
    s1 = data.load_image_folder(tmp_path, seed=0)
    s2 = data.load_image_folder(tmp_path, seed=0)
    s3 = data.load_image_folder(tmp_path, seed=1)
    assert s1.train == s2.train and s1.train != s3.train
    paths = [set(p for p, _ in part) for part in (s1.train, s1.val, s1.test)]
    assert not (paths[0] & paths[1] or paths[0] & paths[2] or paths[1] & paths[2])
    assert sum(map(len, paths)) == 60
    for part in (s1.val, s1.test):
        assert sorted({label for _, label in part}) == [0, 1, 2]  # every class in every split


def test_existing_train_val_test_folders_are_used(tmp_path):
    make_folder(tmp_path / "train", n=6)
    make_folder(tmp_path / "val", n=2)
    make_folder(tmp_path / "test", classes=("a", "c"), n=3)
    s = data.load_image_folder(tmp_path)
    assert (len(s.train), len(s.val), len(s.test)) == (18, 6, 6)
    assert {label for _, label in s.test} == {0, 2}  # labels follow the train classes


def test_train_only_folder_gets_val_and_test_carved_out(tmp_path):
    make_folder(tmp_path / "train", n=20)
    s = data.load_image_folder(tmp_path)
    assert len(s.val) > 0 and len(s.test) > 0 and len(s.train) + len(s.val) + len(s.test) == 60


def test_unknown_class_in_test_folder_is_an_error(tmp_path):
    make_folder(tmp_path / "train")
    make_folder(tmp_path / "test", classes=("a", "zebra"))
    with pytest.raises(data.DataError, match="zebra"):
        data.load_image_folder(tmp_path)


def test_too_few_images_to_split(tmp_path):
    make_folder(tmp_path, n=2)
    with pytest.raises(data.DataError, match="fewer than 3"):
        data.load_image_folder(tmp_path)


def test_subset_limits_train_only(tmp_path):
    make_folder(tmp_path, n=20)
    s = data.load_image_folder(tmp_path).subset(2)
    counts = np.bincount([label for _, label in s.train])
    assert counts.tolist() == [2, 2, 2] and len(s.test) == 9
    assert data.load_image_folder(tmp_path).subset(None).train == data.load_image_folder(
        tmp_path).train
    with pytest.raises(data.DataError):
        data.limit_per_class(s.train, 0)


def test_unknown_source_and_missing_data_dir():
    with pytest.raises(data.DataError, match="Unknown data source 'imagenet22k'"):
        data.load_dataset("imagenet22k")
    with pytest.raises(data.DataError, match="needs data_dir"):
        data.load_dataset("folder")


def test_data_dir_overrides_source(tmp_path):
    make_folder(tmp_path, n=10)
    s = data.load_dataset("synthetic_cats", data_dir=tmp_path)
    assert s.classes == ["a", "b", "c"]


def test_download_offline_gives_clear_error(tmp_path, monkeypatch):
    from torchvision import datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading: no network")

    monkeypatch.setattr(datasets, "Flowers102", offline)
    with pytest.raises(data.DataError, match="offline"):
        data.load_dataset("flowers102", data_root=tmp_path)


def test_transforms_shapes_and_normalisation(tmp_path):
    img = Image.new("RGB", (90, 60), (255, 255, 255))
    x = checkpoint.make_transform(48)(img)
    assert tuple(x.shape) == (3, 48, 48) and float(x.max()) == pytest.approx(1.0)  # (1-.5)/.5
    assert tuple(checkpoint.make_transform(48, train=True)(img).shape) == (3, 48, 48)


def test_dataset_and_clear_error_for_unreadable_image(tmp_path):
    make_folder(tmp_path)
    _, samples, _ = data.scan_image_folder(tmp_path)
    ds = data.ImageListDataset(samples, checkpoint.make_transform(32))
    x, y = ds[0]
    assert tuple(x.shape) == (3, 32, 32) and y == 0 and len(ds) == 24
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    with pytest.raises(data.DataError, match="Cannot read image"):
        data.ImageListDataset([(str(bad), 0)])[0]


def test_grayscale_and_rgba_images_load_as_rgb(tmp_path):
    Image.new("L", (10, 10)).save(tmp_path / "g.png")
    Image.new("RGBA", (10, 10)).save(tmp_path / "r.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert data.load_rgb(tmp_path / "g.png").mode == "RGB"
        assert data.load_rgb(tmp_path / "r.png").mode == "RGB"


def test_synthetic_source_generates_once(tmp_path):
    s = data.load_dataset("synthetic_flowers", data_root=tmp_path, render_size=48, n_per_class=6)
    assert len(s.classes) >= 2 and len(s.train) + len(s.val) + len(s.test) == 6 * len(s.classes)
    again = data.load_dataset("synthetic_flowers", data_root=tmp_path, render_size=48,
                              n_per_class=6)
    assert again.train == s.train


def test_load_rgb_shrinks_to_a_short_side_and_never_enlarges(tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (500, 700, 3), np.uint8)).save(
        photo, quality=90)
    small = data.load_rgb(photo, short_side=110)
    assert min(small.size) == 110 and small.size == (154, 110)  # aspect ratio kept
    assert data.load_rgb(photo, short_side=1000).size == (700, 500)  # never enlarged
    assert data.load_rgb(photo).size == (700, 500)


def test_presized_dataset_decodes_each_file_once(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    root.mkdir()
    samples = []
    for i in range(4):
        path = root / f"{i}.png"
        Image.fromarray(np.full((200, 300, 3), 40 * i, np.uint8)).save(path)
        samples.append((str(path), i % 2))
    calls = []
    real_load = data.load_rgb
    monkeypatch.setattr(data, "load_rgb", lambda p, **kw: calls.append(p) or real_load(p, **kw))
    tf = checkpoint.make_transform(64, train=True)
    ds = data.ImageListDataset(samples, tf, presize=data.presize_for(64))
    for _epoch in range(3):
        for i in range(len(ds)):
            x, _ = ds[i]
            assert x.shape == (3, 64, 64)
    assert len(calls) == len(samples)  # epochs 2 and 3 decoded nothing


def test_presized_copies_beyond_the_memory_budget_go_to_disk_unchanged(tmp_path, monkeypatch):
    root = tmp_path / "imgs"
    root.mkdir()
    rng = np.random.default_rng(0)
    samples = []
    for i in range(4):
        path = root / f"{i}.jpg"
        Image.fromarray(rng.integers(0, 255, (200, 300, 3), np.uint8)).save(path)
        samples.append((str(path), 0))
    tf = checkpoint.make_transform(64)
    in_memory = data.ImageListDataset(samples, tf, presize=data.presize_for(64))
    budget = 2 * 73 * 109 * 3 / 2**20  # room for two presized copies (73 x 109 px)
    mixed = data.ImageListDataset(samples, tf, presize=data.presize_for(64), memory_mb=budget)
    calls = []
    real_load = data.load_rgb
    monkeypatch.setattr(data, "load_rgb", lambda p, **kw: calls.append(p) or real_load(p, **kw))
    first = [mixed[i][0] for i in range(4)]
    assert len(mixed._small) == 2 and len(list(Path(mixed._spill.name).glob("*.png"))) == 2
    again = [mixed[i][0] for i in range(4)]
    assert len(calls) == 4  # the second epoch decoded no original, in memory or on disk
    for i in range(4):
        assert torch.equal(first[i], again[i]) and torch.equal(first[i], in_memory[i][0])
    spill = Path(mixed._spill.name)
    del mixed
    import gc

    gc.collect()
    assert not spill.exists()  # deleted with the dataset


def test_presizing_leaves_evaluation_inputs_unchanged(tmp_path):
    """Evaluation resizes the short side to presize_for(size) anyway, with the same rounding:
    from a presized copy it gets the same input."""
    rng = np.random.default_rng(1)
    smooth = np.kron(rng.integers(0, 255, (30, 40, 3)), np.ones((10, 10, 1))).astype(np.uint8)
    path = tmp_path / "smooth.png"
    Image.fromarray(smooth).save(path)
    tf = checkpoint.make_transform(96)
    full = tf(data.load_rgb(path))
    presized = tf(data.load_rgb(path, short_side=data.presize_for(96)))
    assert full.shape == presized.shape
    assert torch.equal(full, presized)  # PNG: the same pixels (a JPEG decodes at reduced scale)


def test_presizing_changes_nothing_for_images_already_at_the_training_size(tmp_path):
    """The synthetic defaults render images at the training size, and presizing never enlarges:
    with the same seed, the augmented training tensors are identical with and without it, so
    the chapters' fixed-seed results on their defaults do not move."""
    rng = np.random.default_rng(2)
    samples = []
    for i in range(3):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (64, 64, 3), np.uint8)).save(path)
        samples.append((str(path), i))
    for train in (True, False):
        tf = checkpoint.make_transform(64, train=train)
        plain = data.ImageListDataset(samples, tf)
        presized = data.ImageListDataset(samples, tf, presize=data.presize_for(64))
        for i in range(3):
            torch.manual_seed(i)
            a = plain[i][0]
            torch.manual_seed(i)
            assert torch.equal(a, presized[i][0])


# --------------------------------------------------------------------------------------------
# Photos as learners have them
# --------------------------------------------------------------------------------------------

def upright_picture(width=60, height=40):
    """A landscape picture whose top half is red and bottom half blue: its orientation shows."""
    arr = np.zeros((height, width, 3), np.uint8)
    arr[: height // 2] = (220, 20, 20)
    arr[height // 2:] = (20, 20, 220)
    return Image.fromarray(arr)


def is_upright(img):
    arr = np.asarray(img.convert("RGB"), np.int16)
    top, bottom = arr[: arr.shape[0] // 4].mean((0, 1)), arr[-arr.shape[0] // 4:].mean((0, 1))
    return img.width > img.height and top[0] > top[2] + 100 and bottom[2] > bottom[0] + 100


def noise_jpeg(path, size=(200, 160), seed=0):
    arr = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    return path


def test_broken_symlink_is_skipped_warned_and_counted(tmp_path):
    make_folder(tmp_path)
    link = tmp_path / "a" / "downloaded.jpg"
    link.symlink_to(tmp_path / "gone" / "image_0001.jpg")  # as the torchvision layouts link
    with pytest.warns(UserWarning, match="Skipped 1 unreadable image.*broken symbolic link"):
        classes, samples, skipped = data.scan_image_folder(tmp_path)
    assert len(samples) == 24 and list(skipped) == [str(link)]
    assert skipped[str(link)].startswith("broken symbolic link")
    with pytest.warns(UserWarning):
        splits = data.load_dataset(data_dir=tmp_path)
    assert len(splits.skipped) == 1 and "broken symbolic link" in splits.summary()


def test_truncated_jpeg_passes_verify_but_is_skipped_at_scan_time(tmp_path):
    make_folder(tmp_path)
    whole = noise_jpeg(tmp_path / "whole.jpg").read_bytes()
    cut = tmp_path / "a" / "cut.jpg"
    cut.write_bytes(whole[: len(whole) * 2 // 3])  # a download that stopped
    with Image.open(cut) as img:
        img.verify()  # the old check let it through: it would stop training mid-epoch
    with pytest.warns(UserWarning, match="1 truncated"):
        _, samples, skipped = data.scan_image_folder(tmp_path)
    assert len(samples) == 24 and skipped[str(cut)].startswith("truncated")
    with pytest.raises(data.DataError, match="Cannot read image .*cut.jpg.*truncated"):
        data.load_rgb(cut)  # read anyway (scan with verify=False): a clear error, not a crash


def test_jpeg_with_data_after_its_end_marker_is_kept(tmp_path):
    make_folder(tmp_path)
    photo = noise_jpeg(tmp_path / "a" / "phone.jpg")
    photo.write_bytes(photo.read_bytes() + b"SEFH" + bytes(200))  # a phone's trailer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _, samples, skipped = data.scan_image_folder(tmp_path)
    assert skipped == {} and len(samples) == 25


def test_exif_orientation_is_applied(tmp_path):
    sideways = tmp_path / "phone.jpg"
    save_sideways(upright_picture(400, 300), sideways, quality=95)
    with Image.open(sideways) as raw:
        assert raw.size == (300, 400)  # the stored pixels lie on their side
    assert is_upright(data.load_rgb(sideways))
    # the reduced-scale JPEG decode (draft) and the presized training copies too
    small = data.load_rgb(sideways, short_side=75)
    assert small.size == (100, 75) and is_upright(small)
    ds = data.ImageListDataset([(str(sideways), 0)], presize=75)
    assert is_upright(ds[0][0]) and is_upright(ds[0][0])  # decoded, then from memory
    # a PNG with the tag as well
    png = tmp_path / "phone.png"
    save_sideways(upright_picture(), png)
    assert is_upright(data.load_rgb(png))
    # and a binary file object (what an endpoint receives)
    import io

    assert is_upright(data.load_rgb(io.BytesIO(sideways.read_bytes())))


def test_exif_orientation_reaches_the_evaluation_decoder(tmp_path):
    from utils import decoding

    sideways = tmp_path / "phone.jpg"
    save_sideways(upright_picture(400, 300), sideways, quality=95)
    image_steps, _ = decoding.split_transform(checkpoint.make_transform(64))
    key = decoding.decoded_key(sideways, image_steps)
    decoded, _ = decoding.DecodedImages([(str(sideways), 0)], [key], image_steps)[0]
    arr = decoded.numpy().astype(int)  # centre crop of the upright picture: red above blue
    assert arr[:16].mean((0, 1))[0] > arr[:16].mean((0, 1))[2] + 100
    assert arr[-16:].mean((0, 1))[2] > arr[-16:].mean((0, 1))[0] + 100
    # embeddings cached before orientation was applied are not reused
    assert "exif" in key[-1]


def test_colour_modes_become_the_right_rgb(tmp_path):
    colour = (200, 40, 30)
    Image.new("RGB", (32, 32), colour).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=95)
    cmyk = np.asarray(data.load_rgb(tmp_path / "cmyk.jpg"), int)
    assert np.abs(cmyk.mean((0, 1)) - colour).max() < 8

    ramp = np.linspace(0, 65535, 64 * 64).astype(np.uint16).reshape(64, 64)
    Image.fromarray(ramp).save(tmp_path / "16bit.png")
    with Image.open(tmp_path / "16bit.png") as img:
        assert img.mode.startswith("I")
    grey = np.asarray(data.load_rgb(tmp_path / "16bit.png"), int)
    assert grey.shape == (64, 64, 3) and (grey[..., 0] == grey[..., 2]).all()
    # the whole range kept: a plain convert("RGB") clips everything above 255 to white
    assert np.abs(grey[..., 0] - (ramp >> 8)).max() <= 1 and grey[32, 0, 0] in (127, 128)

    palette = Image.new("P", (4, 2))
    palette.putpalette([0, 0, 0, 200, 40, 30] + [0] * 762)
    palette.putpixel((0, 0), 1)
    palette.save(tmp_path / "palette.png", transparency=0)  # index 0 (black) is transparent
    grey_l = Image.new("L", (4, 2), 77)
    grey_l.save(tmp_path / "grey.jpg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pal = np.asarray(data.load_rgb(tmp_path / "palette.png"))
        grey_rgb = np.asarray(data.load_rgb(tmp_path / "grey.jpg"), int)
    assert tuple(pal[0, 0]) == colour and tuple(pal[1, 1]) == (255, 255, 255)  # not black
    assert np.abs(grey_rgb - 77).max() <= 2


def test_rgba_transparency_becomes_white(tmp_path):
    rgba = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black
    rgba.putpixel((0, 0), (10, 200, 10, 255))
    rgba.save(tmp_path / "cutout.png")
    arr = np.asarray(data.load_rgb(tmp_path / "cutout.png"))
    assert tuple(arr[0, 0]) == (10, 200, 10) and tuple(arr[3, 3]) == (255, 255, 255)


def test_image_over_the_decompression_bomb_limit_is_skipped_with_its_reason(tmp_path,
                                                                             monkeypatch):
    make_folder(tmp_path, size=16)  # 256 pixels each
    Image.new("RGB", (64, 64)).save(tmp_path / "b" / "huge.png")  # 4096 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow refuses above twice this
    with pytest.warns(UserWarning, match="decompression-bomb"):
        _, samples, skipped = data.scan_image_folder(tmp_path)
    assert len(samples) == 24
    assert "decompression-bomb limit" in skipped[str(tmp_path / "b" / "huge.png")]
    with pytest.raises(data.DataError, match="huge.png.*decompression-bomb"):
        data.load_rgb(tmp_path / "b" / "huge.png")


def test_non_ascii_and_spaced_names(tmp_path):
    names = ("Maine Coon", "chat tigré", "猫 三毛")
    for i, name in enumerate(names):
        (tmp_path / name).mkdir()
        for j in range(6):
            Image.new("RGB", (24, 24), (40 * i, 90, 30 * j)).save(
                tmp_path / name / f"photo {j} ñ 写真.jpg")
    splits = data.load_dataset(data_dir=tmp_path, seed=0)
    assert splits.classes == sorted(names) and splits.skipped == {}
    assert len(splits.train) + len(splits.val) + len(splits.test) == 18
    ds = data.ImageListDataset(splits.test, checkpoint.make_transform(16), presize=18)
    x, y = ds[0]
    assert x.shape == (3, 16, 16) and splits.classes[y] in names


def test_image_size_none_means_the_right_size_for_the_data(tmp_path):
    """Real photos (a folder or a download) get the chapter's real-photo size, generated images
    the small one; an explicit size wins; nonsense is a clear error."""
    choose = data.choose_image_size
    assert choose(None, chapter="04", source="synthetic_cats", data_dir=tmp_path)[0] == 224
    assert choose(None, chapter="04", source="pets_cats")[0] == 224
    assert choose(None, chapter="04", source="synthetic_cats")[0] == 96
    assert choose(None, chapter="02", source="synthetic_flowers", data_dir=tmp_path)[0] == 128
    assert choose(None, chapter="06", source="flowers102")[0] == choose(
        None, chapter="05", source="flowers102")[0]  # 06's job reuses 05's detector
    size, why = choose(80, chapter="04", source="pets_cats")
    assert size == 80 and "parameters" in why
    for bad in ("224", 0, True, 2.5):
        with pytest.raises(ValueError, match="image_size"):
            choose(bad, chapter="04", source="pets_cats")
    with pytest.raises(ValueError, match="Set image_size"):
        choose(None, chapter="01", source="synthetic_flowers")


def test_render_size_is_the_size_generated_images_are_drawn_at(tmp_path):
    from PIL import Image

    splits = data.load_dataset("synthetic_flowers", data_root=tmp_path, render_size=40,
                               n_per_class=8)
    with Image.open(splits.train[0][0]) as image:
        assert image.size == (40, 40)

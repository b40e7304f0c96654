"""The real-photo path's parameters (``python -m course --data real``)."""

import pytest

from course import real


def test_every_chapter_on_real_photos_gets_a_source_and_chapter_06_the_detectors_size(tmp_path):
    flowers, cats = tmp_path / "flowers", tmp_path / "cats"
    flowers.mkdir(), cats.mkdir()
    photos = real.RealPhotos(flowers=flowers, cats=cats, nonflowers=tmp_path)
    p = {ch: real.parameters(ch, photos) for ch in ("01", "02", "03", "04", "05", "06")}
    assert {p[ch]["data_dir"] for ch in ("01", "02", "05", "06")} == {str(flowers.resolve())}
    assert {p[ch]["data_dir"] for ch in ("03", "04")} == {str(cats.resolve())}
    assert p["04"]["image_size"] == 224  # the network's native size
    assert p["06"]["image_size"] == p["05"]["image_size"]  # 06 trains on 05's detector
    assert p["05"]["negatives_dir"] == str(tmp_path.resolve())
    online = real.parameters("05", real.RealPhotos())
    assert online["data_source"] == "flowers102" and "data_dir" not in online


def test_a_missing_photo_folder_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="is not a folder of photos"):
        real.parameters("04", real.RealPhotos(cats=tmp_path / "nope"))

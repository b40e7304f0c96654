"""The real-photo path: the parameters that point every chapter at real photos.

    python -m course --data real                         # downloads Flowers-102 and Pets (online)
    python -m course --data real --flowers DIR --cats DIR [--nonflowers DIR]

Online, chapters use torchvision's downloads (Oxford Flowers-102 for flowers, the 12 cat breeds
of Oxford-IIIT Pet for cats). Given folders (one sub-folder per class) are used instead, e.g.
the shared subsets ``flowers17``, ``cats12_sample`` and ``nonflower``. Real photos are large:
each chapter trains them at its real-photo size (:func:`utils.data.choose_image_size`: 224 px
in chapter 04, the network's native size; 128 px where many networks train; chapter 06 at
chapter 05's size, because its job reuses chapter 05's detector). docs/real-photos.md has the
timings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from utils.data import IMAGE_SIZES, choose_image_size


@dataclass(frozen=True)
class RealPhotos:
    """Where the real photos are; ``None`` means the torchvision download."""

    flowers: Path | None = None
    cats: Path | None = None
    nonflowers: Path | None = None


def _source(folder: Path | None, download: str) -> dict:
    if folder is None:
        return {"data_source": download}
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise SystemExit(f"--data real: {str(folder)!r} is not a folder of photos "
                         "(expected one sub-folder per class).")
    return {"data_dir": str(folder)}


def parameters(chapter: str, photos: RealPhotos) -> dict:
    """The ``-p`` overrides that run ``chapter`` (two digits) on real photos."""
    flowers = _source(photos.flowers, "flowers102")
    cats = _source(photos.cats, "pets_cats")
    presets = {
        "01": {**flowers},
        # 4 arms x 3 seeds, 12 epochs each, and a data-efficiency curve: about 19 minutes on
        # a 2-core CPU at 128 px (one seed's noise is as large as the gaps it measures)
        "02": {**flowers},
        "03": {**cats},
        "04": {**cats},
        "05": {**flowers},
        "06": {**flowers},  # its job trains on chapter 05's detector, at 05's size
        "07": {},  # generated applications; its *_dir parameters take real folders
        "08": {},  # the review reads the metrics of the runs above (runs_dir)
    }
    out = dict(presets.get(chapter, {}))
    if chapter in IMAGE_SIZES:  # the chapter's size for real photos, written out in the run
        out["image_size"] = choose_image_size(None, chapter=chapter, source="folder")[0]
    if chapter == "05" and photos.nonflowers is not None:
        out["negatives_dir"] = str(Path(photos.nonflowers).expanduser().resolve())
    return out

"""Photos as phones store them, for the tests of the own-photos path."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

ORIENTATION = 0x0112  # the EXIF tag


def save_sideways(picture: Image.Image, path, **save) -> Path:
    """Store ``picture`` the way a phone held upright stores it: the pixels turned a quarter
    (counter-clockwise) and EXIF orientation 6 ("rotate 90 degrees clockwise to display")."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    picture.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, **save)
    return Path(path)


def phone_folder(source, out, *, splits: dict[str, int], classes: int | None = None,
                 sideways_every: int = 2, quality: int = 90) -> Path:
    """JPEGs in ``out/<split>/<class>/`` from an ImageFolder ``source``: ``splits`` maps a split
    to its images per class; every ``sideways_every``-th image is stored sideways with its EXIF
    orientation (the others upright)."""
    class_dirs = sorted(p for p in Path(source).iterdir() if p.is_dir())[:classes]
    for class_dir in class_dirs:
        images = sorted(class_dir.iterdir())
        start = 0
        for split, n in splits.items():
            (Path(out) / split / class_dir.name).mkdir(parents=True, exist_ok=True)
            for i, src in enumerate(images[start:start + n]):
                target = Path(out) / split / class_dir.name / f"{src.stem}.jpg"
                with Image.open(src) as img:
                    picture = img.convert("RGB")
                if sideways_every and i % sideways_every == 0:
                    save_sideways(picture, target, quality=quality)
                else:
                    picture.save(target, quality=quality)
            start += n
    return Path(out)

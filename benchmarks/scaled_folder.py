"""A large photo folder made of links to a small one, for timing a chapter at scale.

    python -m benchmarks.scaled_folder ../shared/data/flowers17 /tmp/big/flowers --times 6
    python -m benchmarks.scaled_folder ../shared/data/nonflower /tmp/big/nonflower --times 3 --flat

Each photo is linked `times` over under new names (``c0_...``, ``c1_...``), class folders kept
(or, with ``--flat``, every photo in one folder, as chapter 05 accepts for non-flower photos).
Only times mean anything on such a folder: the copies of one photo land in different splits,
so accuracies are inflated.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from utils.data import is_image_file


def scale(src: Path, dst: Path, *, times: int, flat: bool = False) -> int:
    """Link every image under `src` `times` over into `dst`; returns the number of links."""
    if times < 1:
        raise SystemExit(f"--times must be at least 1, got {times}.")
    photos = sorted(p for p in src.rglob("*") if is_image_file(p))
    if not photos:
        raise SystemExit(f"No images under {src}.")
    count = 0
    for photo in photos:
        rel = photo.relative_to(src)
        folder = dst if flat else dst / rel.parent
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(times):
            name = f"c{i}_{'_'.join(rel.parts) if flat else rel.name}"
            link = folder / name
            if not link.exists():
                link.symlink_to(photo.resolve())
            count += 1
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("src", type=Path)
    parser.add_argument("dst", type=Path)
    parser.add_argument("--times", type=int, default=6)
    parser.add_argument("--flat", action="store_true", help="put every photo in one folder")
    args = parser.parse_args(argv)
    print(f"{scale(args.src, args.dst, times=args.times, flat=args.flat)} links in {args.dst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

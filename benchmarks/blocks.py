"""Blocks of the docs pages that a benchmark command rewrites, never a person.

``docs/real-photos.md`` holds the recipe sweep (``python -m benchmarks.recipes --docs``) and
every chapter on real photos (``python -m benchmarks.real_course --docs``);
``docs/performance.md`` the throughput figures (``python -m benchmarks.run``).
"""

from __future__ import annotations

from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
REAL_PHOTOS = DOCS / "real-photos.md"
PERFORMANCE = DOCS / "performance.md"


def replace_block(path: Path, name: str, text: str) -> None:
    """Replace what stands between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = Path(path).read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{path} has no {start} ... {end} block to rewrite")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    Path(path).write_text(f"{head}{start}\n{text}{end}{tail}")

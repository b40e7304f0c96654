"""Blocks of the README that a benchmark command rewrites, never a person."""

from __future__ import annotations

from pathlib import Path


def replace_readme_block(path: Path, name: str, text: str) -> None:
    """Replace what stands between ``<!-- name:start -->`` and ``<!-- name:end -->``."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    content = Path(path).read_text()
    if start not in content or end not in content:
        raise SystemExit(f"{path} has no {start} ... {end} block to rewrite")
    head, rest = content.split(start, 1)
    _, tail = rest.split(end, 1)
    Path(path).write_text(f"{head}{start}\n{text}{end}{tail}")

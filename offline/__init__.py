"""Offline stand-ins for the outside world: what lets the course run with no internet and no AWS.

The chapters never import this package; :mod:`utils` calls it, and :mod:`course` (the runner,
the book, the export check) sits on top of both. It imports nothing of either, so the
dependencies point one way: ``course`` -> ``utils`` -> ``offline``.

* :mod:`offline.synthetic`: generated flower, cat and non-flower photos (instead of downloads).
* :mod:`offline.applications`: generated inspection images, leaves and radiographs (chapter 07).
* :mod:`offline.aws_emulator`: a local AWS (moto, patched) for chapter 06's offline mode.
* :mod:`offline.progress`: the progress bar all of them (and :mod:`utils`) show.
"""

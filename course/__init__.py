"""The course's machinery: what runs the course, not what it teaches.

A learner never needs to read this package. It holds:

* :mod:`course.runner`: runs the notebooks headless with papermill (``python -m course``).
* :mod:`course.exports`: checks that the code a chapter marks for export equals ``utils/``.

What the chapters teach, and later chapters reuse, lives in :mod:`utils`; the offline
stand-ins it calls (generated images, the AWS emulator) live in :mod:`offline`, below it.
"""

"""The ``source_dir`` of the chapter 06 SageMaker jobs: ``train.py`` and ``inference.py``.

Self-contained apart from pip packages (``requirements.txt``) and the course package ``utils``,
which the notebook copies next to these files before uploading them.
"""

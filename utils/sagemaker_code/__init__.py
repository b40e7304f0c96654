"""The SageMaker code of chapter 06: ``train.py`` (the jobs) and ``inference.py`` (the endpoint).

Self-contained apart from pip packages (``requirements.txt`` for training,
``requirements-inference.txt`` for serving) and the course package ``utils``, which the
notebook copies next to these files before uploading them
(``utils.sagemaker_workflow.stage_source``).
"""

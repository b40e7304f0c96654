"""The learner's library: the code the chapters write, for later chapters to reuse.

Each function or class marked ``# chapter NN`` here is written, identically, in chapter NN's
``#| export`` cells (``tests/test_exports.py`` keeps them equal):

* :mod:`utils.models`: the pretrained network, the head swap, freezing, BatchNorm handling,
  parameter groups, feature maps (chapters 01-03, 05).
* :mod:`utils.training`: the epoch loop, evaluation and model selection (chapter 02), in the
  precision :mod:`utils.precision` chooses (fp32, or bf16 autocast where the hardware has it).
* :mod:`utils.features`: embedding once and a linear head on the embeddings, and the two
  together as one recipe, ``linear_probe`` (chapter 02), with a disk cache.
* :mod:`utils.detector`: chapter 05's recipe for a general detector (``train_detector``).
* :mod:`utils.checkpoint`: the preprocessing and the checkpoint shared by training and serving
  (chapters 01, 04).
* :mod:`utils.initialisation`: the four answers to the cat-breed question (chapter 03).
* :mod:`utils.data`: synthetic, downloaded and your own ImageFolder datasets, split and checked.
* :mod:`utils.questions`, :mod:`utils.quiz`: the exam-style questions and the self-check widget.
* :mod:`utils.costs`, :mod:`utils.search`: what compute costs; random hyperparameter search.
* :mod:`utils.plots`, :mod:`utils.env`: figures; environment check, metrics and progress bars.
* :mod:`utils.sagemaker_workflow` and ``sagemaker_code/``: chapter 06's SageMaker side.

The course's machinery (the runner, the image generator, the AWS emulator) is in :mod:`course`.
"""

__version__ = "0.2.0"

"""Every multiple-choice question of the course, read from one data file.

The questions live in ``utils/question_bank.yaml``: for each, an ``id``, the ``chapter`` whose
measurement backs its explanation, a ``topic``, the ``prompt``, four ``options``, the
``answer``, an ``explanation``, why each wrong option is wrong (``why_wrong``) and the
``evidence`` keys its texts cite as ``{placeholders}``. Chapters ask them by id::

    from utils import questions, quiz
    quiz.ask(questions.get("flowers_notes"), evidence={"transfer_acc": 0.9, ...})

``flowers_notes`` and ``cats_notes`` are the study notes' two questions, with their letters as
set (answers B and C; ``tests/test_questions.py`` pins them). AWS facts in the explanations come
from AWS's documentation as summarised in the course's fact sheet (the SageMaker developer
guide, June 2023 snapshot, and the API reference); each is dated or qualified where it may
change.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from .quiz import Question

BANK = "question_bank.yaml"
FIELDS = ("id", "chapter", "topic", "prompt", "options", "answer", "explanation", "why_wrong",
          "evidence")


@lru_cache(maxsize=1)
def _load() -> tuple[Question, ...]:
    text = resources.files(__package__).joinpath(BANK).read_text(encoding="utf-8")
    records = yaml.safe_load(text)
    questions = []
    for i, record in enumerate(records):
        missing = [f for f in FIELDS if f not in record]
        extra = sorted(set(record) - set(FIELDS))
        if missing or extra:
            raise ValueError(f"{BANK}, entry {i} ({record.get('id', '?')}): "
                             f"missing fields {missing}, unknown fields {extra}")
        question = Question(prompt=record["prompt"], options=dict(record["options"]),
                            answer=record["answer"], explanation=record["explanation"],
                            why_wrong=dict(record["why_wrong"] or {}), id=record["id"],
                            chapter=str(record["chapter"]), topic=record["topic"])
        declared = set(record["evidence"] or [])
        if declared != question.placeholders():
            raise ValueError(f"{BANK}, {question.id}: evidence lists {sorted(declared)} but "
                             f"its texts cite {sorted(question.placeholders())}")
        questions.append(question)
    ids = [q.id for q in questions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{BANK}: duplicate ids {duplicates}")
    return tuple(questions)


def all_questions() -> list[Question]:
    """Every question of the course, in the data file's order."""
    return list(_load())


def get(qid: str) -> Question:
    """The question with id ``qid``; a ``KeyError`` lists the ids if there is none."""
    for question in _load():
        if question.id == qid:
            return question
    raise KeyError(f"no question {qid!r} in {BANK}; ids: {[q.id for q in _load()]}")


def evidence_keys() -> set[str]:
    """Every ``{placeholder}`` the bank's explanations cite (what chapters measure for them)."""
    return set().union(*(q.placeholders() for q in _load()))

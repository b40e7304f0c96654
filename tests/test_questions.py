"""utils.questions and utils.quiz: one bank of questions that rewards understanding, the study
notes' two questions as set, and the mock exam."""

from collections import Counter

import pandas as pd
import pytest

from utils import questions, quiz
from utils.quiz import Question, check_answer

BANK = questions.all_questions()
LETTERS = "ABCD"

# The two questions of the study notes, as set: what each letter must be about, and the answer.
EXAM_AS_SET = {
    "flowers_notes": ({"A": ["Amazon Lex"],
                       "B": ["transfer learning", "SageMaker", "fine-tun"],
                       "C": ["built-in image classification algorithm", "from scratch",
                             "hyperparameter optimisation"],
                       "D": ["DeepLens", "real-time feedback loop"]}, "B"),
    "cats_notes": ({"A": ["random weights in every layer", "from scratch"],
                    "B": ["pretrained weights in every layer", "output layer included"],
                    "C": ["pretrained weights in every layer except the output layer",
                          "random weights"],
                    "D": ["random weights in every layer except the output layer",
                          "pretrained weights"]}, "C"),
}


def _longest(question: Question) -> str:
    return max(question.options, key=lambda k: len(question.options[k]))


def balance(bank: list[Question]) -> dict:
    """Letter shares, the right-is-longest share and the two pattern guessers' scores."""
    counts = Counter(q.answer for q in bank)
    shares = {letter: counts[letter] / len(bank) for letter in LETTERS}
    longest = sum(_longest(q) == q.answer for q in bank) / len(bank)
    common = max(shares, key=shares.get)
    return {"shares": shares, "longest_right": longest, "guess_longest": longest,
            "guess_common_letter": sum(q.answer == common for q in bank) / len(bank)}


# --- the bank as data ------------------------------------------------------------------------

def test_every_question_is_well_formed_and_explains_every_option():
    ids = [q.id for q in BANK]
    assert len(ids) == len(set(ids))
    evidence = dict.fromkeys(questions.evidence_keys(), 0.5)
    for q in BANK:
        assert list(q.options) == list(LETTERS), q.id
        assert q.chapter in {f"{n:02d}" for n in range(9)}, q.id
        assert q.topic and q.prompt.strip() and q.explanation.strip(), q.id
        assert set(q.why_wrong) == set(LETTERS) - {q.answer}, q.id
        assert all(text.strip() for text in q.why_wrong.values()), q.id
        outcomes = {k: check_answer(q, k, evidence).correct for k in LETTERS}
        assert sum(outcomes.values()) == 1 and outcomes[q.answer], q.id


def test_get_and_evidence_keys():
    assert questions.get("flowers_notes").answer == "B"
    with pytest.raises(KeyError, match="cats_notes"):
        questions.get("no_such_question")
    keys = questions.evidence_keys()
    assert {"transfer_acc", "acc_C", "fe_acc"} <= keys
    assert keys == set().union(*(q.placeholders() for q in BANK))


# --- the notes' two questions ----------------------------------------------------------------

@pytest.mark.parametrize("qid", sorted(EXAM_AS_SET))
def test_notes_questions_keep_their_letters_and_answer(qid):
    question = questions.get(qid)
    expected, answer = EXAM_AS_SET[qid]
    assert question.answer == answer
    for letter, phrases in expected.items():
        for phrase in phrases:
            assert phrase.lower() in question.options[letter].lower(), (qid, letter, phrase)


def test_cat_question_keeps_its_premise():
    question = questions.get("cats_notes")
    assert "large" in question.prompt and "re-train" in question.prompt
    assert "use_pretrained_model=1" in question.explanation


def test_flower_question_keeps_its_setting_and_lures():
    question = questions.get("flowers_notes")
    for phrase in ("botanical research organisation", "species", "training time", "compute"):
        assert phrase in question.prompt, phrase
    assert "conversational" in question.why_wrong["A"]
    assert "from scratch" in question.why_wrong["C"]
    assert "31 January 2024" in question.why_wrong["D"]
    evidence = {"transfer_acc": 0.9, "transfer_seconds": 2.0, "scratch_acc": 0.3,
                "scratch_seconds": 60.0}
    assert check_answer(question, "b", evidence).correct


# --- the mock exam ---------------------------------------------------------------------------

def test_mock_exam_draw_is_seeded_and_scores_per_topic(capsys):
    first = quiz.mock_exam(BANK, n=8, seed=3)
    assert first.ids == quiz.mock_exam(BANK, n=8, seed=3).ids
    assert first.ids != quiz.mock_exam(BANK, n=8, seed=4).ids
    assert first.score is None and first.reread == []
    drawn = first.questions
    wrong = {q.id: next(k for k in LETTERS if k != q.answer) for q in drawn[:3]}
    answers = {q.id: q.answer for q in drawn[3:]} | wrong
    exam = quiz.mock_exam(BANK, n=8, seed=3, answers=answers)
    assert exam.score == pytest.approx(5 / 8)
    assert exam.reread == sorted({q.chapter for q in drawn[:3]})
    assert isinstance(exam.per_topic, pd.DataFrame)
    assert exam.per_topic["asked"].sum() == 8 and exam.per_topic["correct"].sum() == 5
    for topic, group in exam.rows.groupby("topic"):
        row = exam.per_topic.set_index("topic").loc[topic]
        assert row["asked"] == len(group) and row["correct"] == group["correct"].sum()
    out = capsys.readouterr().out
    assert "Score: 5 of 8" in out and "Re-read chapter(s)" in out


def test_mock_exam_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="between 1 and"):
        quiz.mock_exam(BANK, n=len(BANK) + 1)
    drawn = quiz.mock_exam(BANK, n=3, seed=0).ids
    outsider = next(q.id for q in BANK if q.id not in drawn)
    with pytest.raises(ValueError, match="not in this exam"):
        quiz.mock_exam(BANK, n=3, seed=0, answers={outsider: "A"})
    with pytest.raises(ValueError, match="not an option"):
        quiz.mock_exam(BANK, n=3, seed=0, answers={drawn[0]: "E"})


def test_mock_exam_without_evidence_points_to_the_chapter():
    question = questions.get("flowers_notes")
    exam = quiz.score_exam([question], {"flowers_notes": "A"})
    assert exam.score == 0 and exam.reread == [question.chapter]
    message = check_answer(question, "B", None, strict=False).message
    assert f"(your chapter {question.chapter} run)" in message

"""utils.questions and utils.quiz: one bank of questions that rewards understanding, the study
notes' two questions as set, and the mock exam."""

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from utils import questions, quiz
from utils.quiz import Question, check_answer

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("[0-9]*.ipynb"))
BANK = questions.all_questions()
LETTERS = "ABCD"


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    """As under papermill: questions and exams print as text (no widget)."""
    monkeypatch.setenv("COURSE_HEADLESS", "1")

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


def _right_is_longest(question: Question) -> bool:
    """The right option is the longest (a tie counts: a guesser could pick it)."""
    return len(question.options[question.answer]) == max(map(len, question.options.values()))


def balance(bank: list[Question]) -> dict:
    """Letter shares, the right-is-longest share and the two pattern guessers' scores."""
    counts = Counter(q.answer for q in bank)
    shares = {letter: counts[letter] / len(bank) for letter in LETTERS}
    common = max(shares, key=shares.get)
    # a guesser who always picks the longest option (the first of the longest on a tie)
    longest_pick = [max(q.options, key=lambda k: len(q.options[k])) for q in bank]
    return {"shares": shares,
            "longest_right": sum(map(_right_is_longest, bank)) / len(bank),
            "guess_longest": sum(p == q.answer for p, q in zip(longest_pick, bank,
                                                                strict=True)) / len(bank),
            "guess_common_letter": counts[common] / len(bank)}


def check_balance(bank: list[Question]) -> dict:
    """Fails when the bank can be passed by a pattern instead of understanding."""
    stats = balance(bank)
    for letter, share in stats["shares"].items():
        assert 0.20 <= share <= 0.30, f"answer {letter} holds {share:.0%} of the bank"
    assert stats["longest_right"] <= 0.30, f"right option longest in {stats['longest_right']:.0%}"
    assert stats["guess_longest"] <= 0.35, f"always-longest scores {stats['guess_longest']:.0%}"
    assert stats["guess_common_letter"] <= 0.35, stats
    return stats


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


def test_bank_rewards_understanding_not_patterns():
    assert len(BANK) >= 60
    stats = check_balance(BANK)
    print(stats)  # the closing note quotes these


def test_balance_check_catches_a_longest_answer_pattern():
    """Questions whose answer is the longest option, just enough to push the share over 30%
    (letters kept balanced, so only the length pattern can trip the check)."""
    padded = list(BANK)
    i = 0
    while sum(map(_right_is_longest, padded)) <= 0.30 * len(padded):
        letter = LETTERS[i % 4]
        options = {k: "a much longer right option" if k == letter else "short" for k in LETTERS}
        padded.append(Question(f"Pattern {i}?", options, answer=letter, id=f"pattern_{i}",
                               chapter="02", topic="t"))
        i += 1
    check_balance(padded[:-1])  # one question fewer still passes ...
    with pytest.raises(AssertionError, match="longest"):
        check_balance(padded)  # ... the one that tips it over fails


def test_options_are_of_comparable_length():
    for q in BANK:
        lengths = [len(text) for text in q.options.values()]
        assert min(lengths) >= 0.6 * max(lengths), (q.id, lengths)


def test_every_explanation_names_its_chapter():
    for q in BANK:
        assert f"chapter {q.chapter}" in q.explanation.lower(), q.id


def test_lex_only_in_the_notes_flower_question():
    for q in BANK:
        text = " ".join([q.prompt, q.explanation, *q.options.values(), *q.why_wrong.values()])
        if q.id != "flowers_notes":
            assert "Lex" not in text.split() and "Lex's" not in text, q.id
    flower = questions.get("flowers_notes")
    assert "Amazon Lex" in flower.options["A"] and "Lex" in flower.why_wrong["A"]


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


def test_the_exams_aws_facts_are_stated():
    defaults = questions.get("builtin_defaults").explanation
    assert "num_layers=152 and use_pretrained_model=0" in defaults
    assert "larger than image_shape" in questions.get("builtin_resize").explanation
    assert "model.tar.gz" in questions.get("builtin_checkpoint_frequency").explanation
    incremental = questions.get("builtin_incremental")
    assert "num_layers, image_shape and num_classes must match" in incremental.explanation
    assert "feature extraction" in questions.get("ictf_top_layer").explanation
    assert "JumpStartConfig" in questions.get("jumpstart").explanation
    depths = " ".join(questions.get("builtin_transfer_mode").why_wrong.values())
    assert "18, 34, 50, 101, 152 or 200" in depths
    spot = questions.get("spot").explanation
    assert "enable_managed_spot_training" in spot and "max_wait_time_in_seconds" in spot
    text = " ".join(" ".join([q.prompt, q.explanation, *q.options.values(),
                              *q.why_wrong.values()]) for q in BANK)
    for v2_name in ("use_spot_instances", "checkpoint_s3_uri", "max_wait)"):
        assert v2_name not in text  # SDK v3 names only


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


def test_mock_exam_under_papermill_prints_the_questions_and_their_ids(capsys):
    exam = quiz.mock_exam(BANK, n=2, seed=0, answers={})
    out = capsys.readouterr().out
    assert exam.score is None
    for question in exam.questions:
        assert question.prompt in out and f'"{question.id}": "?"' in out


def test_mock_exam_without_evidence_points_to_the_chapter():
    question = questions.get("flowers_notes")
    exam = quiz.score_exam([question], {"flowers_notes": "A"})
    assert exam.score == 0 and exam.reread == [question.chapter]
    message = check_answer(question, "B", None, strict=False).message
    assert f"[your chapter {question.chapter} value]" in message


# --- the questionnaires' answer keys ----------------------------------------------------------

FOLDED = re.compile(
    r"\A\s*<details><summary>Answer</summary>\n\n(?P<answer>.+?)\n\n</details>\s*\Z", re.S)


def questionnaire_items(source: str) -> list[tuple[str, str]]:
    """(item, what follows it up to the next item) for every numbered questionnaire item."""
    text = source.partition("## Questionnaire")[2]
    starts = [m.start() for m in re.finditer(r"^\d+\. ", text, re.M)]
    pieces = [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
    items = []
    for piece in pieces:
        question, _, after = piece.partition("\n\n")  # an item ends at its first blank line
        items.append((question, after))
    return items


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_questionnaire_item_has_a_folded_answer(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    questionnaires = [s for s in sources if "## Questionnaire" in s]
    if path.stem.startswith("00"):
        assert not questionnaires  # the start page asks nothing
        return
    assert len(questionnaires) == 1, path.name
    items = questionnaire_items(questionnaires[0])
    assert len(items) >= 5, path.name
    for question, after in items:
        match = FOLDED.match(after)
        assert match, f"{path.name}: no folded answer after {question[:60]!r}"
        answer = match["answer"]
        assert len(answer.split()) >= 20, (path.name, question[:60])
        assert not re.search(r"\d+(\.\d+)?\s?%", answer), (path.name, answer[:60])

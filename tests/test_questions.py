"""utils.questions: the study notes' two exam questions as set, and the practice questions."""

import string

import pytest

from utils import questions
from utils.quiz import Question, check_answer

# The two questions of the study notes, as set: what each letter must be about, and the answer.
EXAM_AS_SET = {
    "flowers": ({"A": ["Amazon Lex", "natural-language"],
                 "B": ["transfer learning", "SageMaker", "fine-tune", "species"],
                 "C": ["built-in image classification algorithm", "from scratch",
                       "hyperparameter optimisation"],
                 "D": ["DeepLens", "real-time feedback loop", "continuously"]}, "B"),
    "cats": ({"A": ["Random weights in every layer", "from scratch"],
              "B": ["pretrained weights in every layer", "output layer included"],
              "C": ["pretrained weights in every layer except the output layer",
                    "random weights"],
              "D": ["Random weights in every layer except the output layer",
                    "keeps its pretrained weights"]}, "C"),
}
EXAM_QUESTIONS = {"flowers": questions.flower_exam_question, "cats": questions.chapter03_question}


@pytest.mark.parametrize("name", sorted(EXAM_AS_SET))
def test_exam_questions_keep_their_letters_and_answer(name):
    question = EXAM_QUESTIONS[name]()
    expected, answer = EXAM_AS_SET[name]
    assert question.answer == answer
    assert list(question.options) == ["A", "B", "C", "D"]
    for letter, phrases in expected.items():
        for phrase in phrases:
            assert phrase.lower() in question.options[letter].lower(), (name, letter, phrase)
    assert set(question.why_wrong) == set("ABCD") - {answer}  # every lure is explained


def test_cat_question_keeps_its_premise_and_names_the_builtin_algorithm():
    question = questions.chapter03_question()
    assert "large training dataset" in question.prompt
    assert "use_pretrained_model=1" in question.explanation
    assert "1000" in question.why_wrong["B"] and "feature extractor" in question.why_wrong["D"]


def test_flower_lures_are_explained_with_the_facts():
    question = questions.flower_exam_question()
    assert "conversational" in question.why_wrong["A"]
    assert "from scratch" in question.why_wrong["C"]
    deeplens = question.why_wrong["D"]
    assert "31 January 2023" in deeplens and "31 January 2024" in deeplens
    evidence = {"transfer_acc": 0.9, "transfer_seconds": 2.0, "scratch_acc": 0.3,
                "scratch_seconds": 60.0}
    assert check_answer(question, "b", evidence).correct
    for wrong in "ACD":
        assert not check_answer(question, wrong, evidence).correct


def _placeholders(question: Question) -> set[str]:
    texts = [question.explanation, *question.why_wrong.values()]
    return {field for text in texts for _, field, _, _ in string.Formatter().parse(text)
            if field}


def test_practice_questions_have_one_answer_and_explain_every_option():
    practice = questions.practice_questions()
    assert len(practice) >= 20
    evidence = dict.fromkeys(questions.PRACTICE_EVIDENCE_KEYS, 0.5)
    evidence["small_input"] = 32
    prompts = set()
    for key, question in practice.items():
        assert list(question.options) == ["A", "B", "C", "D"], key
        assert question.answer in question.options, key  # exactly one answer: a single key
        assert question.explanation.strip(), key
        assert set(question.why_wrong) == set(question.options) - {question.answer}, key
        assert all(text.strip() for text in question.why_wrong.values()), key
        assert _placeholders(question) <= set(questions.PRACTICE_EVIDENCE_KEYS), key
        outcomes = {letter: check_answer(question, letter, evidence).correct
                    for letter in question.options}
        assert sum(outcomes.values()) == 1 and outcomes[question.answer], key
        prompts.add(question.prompt)
    assert len(prompts) == len(practice)  # no scenario twice
    answers = [q.answer for q in practice.values()]
    assert len(set(answers)) >= 2  # the right answer is not always in the same place


def test_practice_questions_state_the_exams_sagemaker_facts():
    practice = questions.practice_questions()
    assert "18, 34, 50, 101, 152 or 200" in practice["builtin_transfer_mode"].why_wrong["D"]
    assert "train_lst" in practice["builtin_input_format"].options["B"]
    assert "GPU" in practice["builtin_instances"].options["B"]
    assert "does not support GPUs" in practice["serverless_gpu"].options["B"]
    assert "nothing while idle" in practice["rarely_used_endpoint"].options["B"]


def test_endpoint_billing_and_sdk_v3_names():
    pipeline = questions.pipeline_question()
    assert "instance-backed" in pipeline.why_wrong["C"]
    assert "do not bill while idle" in pipeline.why_wrong["C"]
    spot = questions.review_questions()["spot"]
    assert "enable_managed_spot_training=True" in spot.options["A"]
    assert "max_wait_time_in_seconds" in spot.options["A"]
    everything = [questions.pipeline_question(), questions.flower_exam_question(),
                  questions.chapter03_question(), questions.chapter02_question(),
                  *questions.review_questions().values(),
                  *questions.practice_questions().values()]
    text = " ".join(" ".join([q.prompt, q.explanation, *q.options.values(),
                              *q.why_wrong.values()]) for q in everything)
    for v2_name in ("use_spot_instances", "checkpoint_s3_uri", "max_wait)"):
        assert v2_name not in text
    assert "overwritten" not in questions.review_questions()["batchnorm"].options["B"]

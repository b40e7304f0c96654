"""Exam-style self-checks: a widget in JupyterLab, plain text under papermill and in the book.

A :class:`Question` holds the options, the right answer and an explanation. The explanation
may contain ``{placeholders}`` filled from the numbers the learner just measured, so the
feedback cites *their* results::

    q = Question("Which is cheaper?", {"A": "...", "B": "..."}, answer="A",
                 explanation="Feature extraction took {fe_seconds:.0f} s here.")
    ask(q, evidence={"fe_seconds": 12.3})           # widget in JupyterLab, text elsewhere
    ask(q, evidence=..., choice="B")                  # check a given answer (papermill)

The course's questions live in one data file (:mod:`utils.questions`); :func:`mock_exam`
draws a seeded exam from them and scores it per topic.
"""

from __future__ import annotations

import html
import random
import string
from dataclasses import dataclass, field

import pandas as pd

from .env import headless


@dataclass
class Question:
    """A multiple-choice question with one right option.

    ``chapter`` names the chapter whose measurement backs the explanation, ``topic`` groups
    questions for a mock exam's per-topic score.
    """

    prompt: str
    options: dict[str, str]
    answer: str
    explanation: str = ""
    why_wrong: dict[str, str] = field(default_factory=dict)
    id: str = ""
    chapter: str = ""
    topic: str = ""

    def __post_init__(self):
        if self.answer not in self.options:
            raise ValueError(f"answer {self.answer!r} is not one of the options "
                             f"{list(self.options)}")
        unknown = set(self.why_wrong) - set(self.options)
        if unknown:
            raise ValueError(f"why_wrong names unknown options: {sorted(unknown)}")

    def text(self) -> str:
        """The question and its options as plain text."""
        lines = [self.prompt, ""]
        lines += [f"  {key}. {value}" for key, value in self.options.items()]
        return "\n".join(lines)

    def placeholders(self) -> set[str]:
        """The evidence keys its explanation and its why-wrong texts cite."""
        texts = [self.explanation, *self.why_wrong.values()]
        return {name for text in texts for _, name, _, _ in string.Formatter().parse(text)
                if name}


@dataclass
class Feedback:
    """The result of checking one answer."""

    correct: bool
    message: str


def check_answer(question: Question, choice: str, evidence: dict | None = None, *,
                 strict: bool = True) -> Feedback:
    """Check ``choice`` (an option key, case-insensitive) and explain, citing ``evidence``.

    Raises ``ValueError`` naming the valid keys for an unknown choice. With ``strict`` a
    measured value the explanation needs and ``evidence`` lacks is an error; without it the
    text says which chapter measures it.
    """
    key = str(choice).strip().upper()
    options = {k.upper(): k for k in question.options}
    if key not in options:
        raise ValueError(f"{choice!r} is not an option; choose one of {list(question.options)}.")
    key = options[key]
    fill = _filler(question, evidence, strict)
    explanation = fill(question.explanation)
    if key == question.answer:
        return Feedback(True, f"Correct: {key}. {explanation}".strip())
    reason = fill(question.why_wrong.get(key, ""))
    message = f"Not quite: {key} is wrong. {reason} The answer is {question.answer}. {explanation}"
    return Feedback(False, " ".join(message.split()))


class _NotMeasured:
    """Stands in for a measured value nobody passed: formats as a pointer to its chapter."""

    def __init__(self, chapter: str):
        self.text = f"[your chapter {chapter} value]" if chapter else "[not measured]"

    def __format__(self, spec: str) -> str:
        return self.text


def _filler(question: Question, evidence: dict | None, strict: bool):
    evidence = dict(evidence or {})
    if not strict:
        for name in question.placeholders() - set(evidence):
            evidence[name] = _NotMeasured(question.chapter)

    def fill(template: str) -> str:
        try:
            return template.format(**evidence)
        except KeyError as err:
            raise ValueError(f"The explanation needs the measured value {err.args[0]!r}; "
                             f"pass it in evidence=...") from err

    return fill


def ask(question: Question, evidence: dict | None = None, choice: str | None = None,
        interactive: bool | None = None) -> Feedback | None:
    """Show a question once. Returns the :class:`Feedback` if ``choice`` is given.

    ``interactive`` (default: not :func:`utils.env.headless`): in JupyterLab the question is a
    widget whose options wrap in full, with a *Check* button. Otherwise (papermill, the book)
    it is printed as plain text. A given ``choice`` is checked and its feedback printed.
    """
    if interactive is None:
        interactive = not headless()
    if not (interactive and _widget(question, evidence)):
        print(question.text())
    if choice is None:
        return None
    feedback = check_answer(question, choice, evidence)
    print(f"\nYour answer: {choice}\n{feedback.message}")
    return feedback


# --- widgets -------------------------------------------------------------------------------

def _html_text(text: str, *, bold: bool = False, color: str | None = None) -> str:
    """Text as HTML that wraps at word boundaries inside the cell (no cut-off, no mid-word
    breaks as in a printed output)."""
    style = "white-space: normal; line-height: 1.4; margin: 0.2em 0"
    if color:
        style += f"; border-left: 4px solid {color}; padding-left: 0.6em"
    body = html.escape(text)
    return f"<div style='{style}'>{'<b>' + body + '</b>' if bold else body}</div>"


def _feedback_html(feedback: Feedback) -> str:
    return _html_text(feedback.message, color="#2e7d32" if feedback.correct else "#c62828")


def _option_picker(question: Question):
    """The prompt and one full-width, wrapping button per option; returns (box, selected())."""
    import ipywidgets as widgets

    buttons = {}
    rows = []
    for key, text in question.options.items():
        button = widgets.Button(description=key, tooltip=f"choose {key}",
                                layout=widgets.Layout(width="3em", min_width="3em"))
        label = widgets.HTML(_html_text(text), layout=widgets.Layout(flex="1 1 auto",
                                                                     width="auto"))
        buttons[key] = button
        rows.append(widgets.HBox([button, label],
                                 layout=widgets.Layout(width="100%", align_items="center")))
    state = {"choice": None}

    def select(button):
        state["choice"] = button.description
        for key, other in buttons.items():
            other.button_style = "info" if key == button.description else ""

    for button in buttons.values():
        button.on_click(select)
    prompt = widgets.HTML(_html_text(question.prompt, bold=True),
                          layout=widgets.Layout(width="100%"))
    box = widgets.VBox([prompt, *rows], layout=widgets.Layout(width="100%"))
    return box, lambda: state["choice"]


def _widget(question: Question, evidence: dict | None) -> bool:
    """Display the question as a widget; False if ipywidgets is missing."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain text is enough
        return False
    picker, selected = _option_picker(question)
    check = widgets.Button(description="Check", button_style="primary")
    out = widgets.HTML(layout=widgets.Layout(width="100%"))

    def on_click(_):
        if selected() is None:
            out.value = _html_text("Pick an option first.")
        else:
            out.value = _feedback_html(check_answer(question, selected(), evidence,
                                                    strict=False))

    check.on_click(on_click)
    display(widgets.VBox([picker, check, out], layout=widgets.Layout(width="100%")))
    return True


# --- mock exam -----------------------------------------------------------------------------

@dataclass
class MockExam:
    """A drawn mock exam and, once answered, its score.

    ``rows``: one row per question (id, topic, chapter, answer, given, correct); ``per_topic``:
    topic, asked, correct; ``reread``: the chapters to re-read, those of wrong or missing
    answers; ``score``: the share of right answers (None until answered).
    """

    questions: list[Question]
    rows: pd.DataFrame
    per_topic: pd.DataFrame
    reread: list[str]
    score: float | None

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]


def draw(questions: list[Question], *, n: int = 20, seed: int = 0) -> list[Question]:
    """``n`` distinct questions drawn with ``seed`` (the same seed, the same exam)."""
    questions = list(questions)
    if not 1 <= n <= len(questions):
        raise ValueError(f"n must be between 1 and the {len(questions)} questions available, "
                         f"got {n}.")
    return random.Random(seed).sample(questions, n)


def mock_exam(questions: list[Question], *, n: int = 20, seed: int = 0,
              answers: dict[str, str] | None = None, evidence: dict | None = None) -> MockExam:
    """Draw ``n`` questions (seeded), score ``answers`` (question id -> letter) per topic.

    With no ``answers`` (None or empty) in JupyterLab the exam is one widget form whose
    *Score* button fills in the returned :class:`MockExam`; headless (papermill, the book) it
    prints the questions as text and their ids, to answer through a parameter. With
    ``answers`` it prints each feedback, the score per topic and the chapters to re-read.
    ``evidence`` fills the explanations' measured values; missing ones point to the chapter
    that measures them.
    """
    drawn = draw(questions, n=n, seed=seed)
    if answers:
        exam = score_exam(drawn, answers, evidence=evidence)
        report(exam, evidence=evidence)
        return exam
    exam = score_exam(drawn, {}, evidence=evidence)
    if headless() or not _exam_widget(exam, evidence):
        for i, question in enumerate(drawn, 1):
            print(f"--- {i}. [{question.id}] ---\n{question.text()}\n")
        print("Answer through the parameter: {" + ", ".join(f'"{q.id}": "?"' for q in drawn)
              + "}")
    return exam


def score_exam(drawn: list[Question], answers: dict[str, str], *,
               evidence: dict | None = None) -> MockExam:
    """Score ``answers`` for the ``drawn`` questions (unanswered ones count as wrong)."""
    ids = {q.id for q in drawn}
    stray = sorted(set(answers) - ids)
    if stray:
        raise ValueError(f"answers name questions that are not in this exam: {stray}; "
                         f"this exam asks {sorted(ids)}.")
    rows = []
    for question in drawn:
        given = answers.get(question.id)
        correct = None if given is None else check_answer(question, given, evidence,
                                                          strict=False).correct
        rows.append({"id": question.id, "topic": question.topic, "chapter": question.chapter,
                     "answer": question.answer,
                     "given": None if given is None else str(given).strip().upper(),
                     "correct": bool(correct)})
    table = pd.DataFrame(rows, columns=["id", "topic", "chapter", "answer", "given", "correct"])
    per_topic = (table.groupby("topic", sort=True)
                 .agg(asked=("id", "size"), correct=("correct", "sum"))
                 .reset_index())
    answered = bool(answers)
    reread = sorted(set(table.loc[~table["correct"], "chapter"])) if answered else []
    score = float(table["correct"].mean()) if answered else None
    return MockExam(questions=drawn, rows=table, per_topic=per_topic, reread=reread, score=score)


def report(exam: MockExam, *, evidence: dict | None = None) -> None:
    """Print each answer's feedback, the score per topic and the chapters to re-read."""
    for i, (question, row) in enumerate(zip(exam.questions, exam.rows.itertuples(),
                                            strict=True), 1):
        print(f"--- {i}. [{question.id}] ({question.topic}, chapter {question.chapter}) ---")
        print(question.text())
        if not isinstance(row.given, str):  # no answer (pandas stores None as NaN)
            print(f"\nNo answer given. The answer is {question.answer}.\n")
        else:
            feedback = check_answer(question, row.given, evidence, strict=False)
            print(f"\nYour answer: {row.given}\n{feedback.message}\n")
    print(f"Score: {exam.rows['correct'].sum()} of {len(exam.rows)} ({exam.score:.0%})")
    print(exam.per_topic.to_string(index=False))
    if exam.reread:
        print("Re-read chapter(s): " + ", ".join(exam.reread))
    else:
        print("Nothing to re-read: every answer was right.")


def _exam_widget(exam: MockExam, evidence: dict | None) -> bool:
    """One form for the whole exam; its Score button fills ``exam`` in place and shows each
    question's feedback under it, then the score per topic and the chapters to re-read."""
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:  # pragma: no cover
        return False
    pickers = []
    boxes = []
    for i, question in enumerate(exam.questions, 1):
        box, selected = _option_picker(question)
        feedback = widgets.HTML(layout=widgets.Layout(width="100%"))
        pickers.append((question, selected, feedback))
        title = widgets.HTML(_html_text(f"{i}. {question.topic}", bold=True))
        boxes.append(widgets.VBox([title, box, feedback], layout=widgets.Layout(width="100%")))
    button = widgets.Button(description="Score", button_style="primary")
    summary = widgets.HTML(layout=widgets.Layout(width="100%"))

    def on_click(_):
        answers = {q.id: choice for q, selected, _ in pickers if (choice := selected())}
        if not answers:
            summary.value = _html_text("Pick at least one answer first.")
            return
        scored = score_exam(exam.questions, answers, evidence=evidence)
        exam.rows, exam.per_topic = scored.rows, scored.per_topic
        exam.reread, exam.score = scored.reread, scored.score
        for question, _, feedback in pickers:
            if question.id in answers:
                feedback.value = _feedback_html(check_answer(
                    question, answers[question.id], evidence, strict=False))
            else:
                feedback.value = _html_text(f"No answer given. The answer is "
                                            f"{question.answer}.", color="#c62828")
        reread = ("Re-read chapter(s): " + ", ".join(exam.reread) if exam.reread
                  else "Nothing to re-read: every answer was right.")
        summary.value = (_html_text(f"Score: {exam.rows['correct'].sum()} of {len(exam.rows)} "
                                    f"({exam.score:.0%})", bold=True)
                         + exam.per_topic.to_html(index=False) + _html_text(reread))

    button.on_click(on_click)
    display(widgets.VBox([*boxes, button, summary], layout=widgets.Layout(width="100%")))
    return True

"""Exam-style self-checks: an interactive widget in JupyterLab, plain text under papermill.

A :class:`Question` holds the options, the right answer and an explanation. The explanation
may contain ``{placeholders}`` filled from the numbers the learner just measured, so the
feedback cites *their* results::

    q = Question("Which is cheaper?", {"A": "...", "B": "..."}, answer="A",
                 explanation="Feature extraction took {fe_seconds:.0f} s here.")
    ask(q, evidence={"fe_seconds": 12.3})           # widget (JupyterLab) + text
    ask(q, evidence=..., choice="B")                  # check a given answer (papermill)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Question:
    """A multiple-choice question with one right option."""

    prompt: str
    options: dict[str, str]
    answer: str
    explanation: str = ""
    why_wrong: dict[str, str] = field(default_factory=dict)

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


@dataclass
class Feedback:
    """The result of checking one answer."""

    correct: bool
    message: str


def check_answer(question: Question, choice: str, evidence: dict | None = None) -> Feedback:
    """Check ``choice`` (an option key, case-insensitive) and explain, citing ``evidence``.

    Raises ``ValueError`` naming the valid keys for an unknown choice.
    """
    key = str(choice).strip().upper()
    options = {k.upper(): k for k in question.options}
    if key not in options:
        raise ValueError(f"{choice!r} is not an option; choose one of {list(question.options)}.")
    key = options[key]
    evidence = evidence or {}
    explanation = _fill(question.explanation, evidence)
    if key == question.answer:
        return Feedback(True, f"Correct: {key}. {explanation}".strip())
    reason = _fill(question.why_wrong.get(key, ""), evidence)
    message = f"Not quite: {key} is wrong. {reason} The answer is {question.answer}. {explanation}"
    return Feedback(False, " ".join(message.split()))


def _fill(template: str, evidence: dict) -> str:
    try:
        return template.format(**evidence)
    except KeyError as err:
        raise ValueError(f"The explanation needs the measured value {err.args[0]!r}; "
                         f"pass it in evidence=...") from err


def ask(question: Question, evidence: dict | None = None, choice: str | None = None,
        interactive: bool = True) -> Feedback | None:
    """Show a question. Returns the :class:`Feedback` if ``choice`` is given.

    In JupyterLab (with ``interactive``), radio buttons and a *Check* button appear. The plain
    text is always printed, so the question also reads well in a papermill output or a PDF.
    """
    print(question.text())
    if interactive:
        _widget(question, evidence)
    if choice is None:
        return None
    feedback = check_answer(question, choice, evidence)
    print(f"\nYour answer: {choice}\n{feedback.message}")
    return feedback


def _widget(question: Question, evidence: dict | None) -> None:
    try:
        import ipywidgets as widgets
        from IPython.display import display
    except ImportError:  # pragma: no cover - plain text is enough
        return
    radio = widgets.RadioButtons(
        options=[(f"{k}. {v}", k) for k, v in question.options.items()], value=None,
        layout=widgets.Layout(width="max-content"))
    button = widgets.Button(description="Check", button_style="primary")
    out = widgets.Output()

    def on_click(_):
        out.clear_output()
        with out:
            if radio.value is None:
                print("Pick an option first.")
            else:
                print(check_answer(question, radio.value, evidence).message)

    button.on_click(on_click)
    display(widgets.VBox([radio, button, out]))

"""The gate form read from a card's `extra_gated_*` metadata, and the check of the answers."""

from __future__ import annotations

from typing import Any

import pytest

from hugbox.errors import BadRequest
from hugbox.gated.form import MAX_ANSWER, GateField, check_answers, gate_form

CARD: dict[str, Any] = {
    "extra_gated_heading": "Ask",
    "extra_gated_prompt": "Research only.",
    "extra_gated_button_content": "Send",
    "extra_gated_fields": {
        "Company": "text",
        "Country": "country",
        "Start": "date_picker",
        "Use": {"type": "select", "options": ["Research", {"label": "Other", "value": "o"}]},
        "Agree": "checkbox",
        "Odd": "a-type-we-do-not-know",
    },
}
GOOD = {"Company": " Acme ", "Country": "Japan", "Start": "2026-01-31", "Use": "o",
        "Agree": "on", "Odd": "x"}  # fmt: skip


def test_every_field_type_is_read() -> None:
    form = gate_form(CARD)
    assert (form.heading, form.prompt, form.button) == ("Ask", "Research only.", "Send")
    assert form.fields == (
        GateField("Company", "text"),
        GateField("Country", "country"),
        GateField("Start", "date_picker"),
        GateField("Use", "select", (("Research", "Research"), ("o", "Other"))),
        GateField("Agree", "checkbox"),
        GateField("Odd", "text"),
    )


@pytest.mark.parametrize("card", [{}, {"extra_gated_fields": "nope"}, {"extra_gated_fields": None},
                                  {"extra_gated_prompt": 3, "extra_gated_fields": []}])  # fmt: skip
def test_metadata_it_cannot_read_asks_nothing(card: dict[str, Any]) -> None:
    form = gate_form(card)
    assert form.fields == () and form.prompt == ""
    assert check_answers(form, {}) == {}


def test_good_answers_are_kept_trimmed() -> None:
    assert check_answers(gate_form(CARD), GOOD) == {**GOOD, "Company": "Acme", "Agree": True}


@pytest.mark.parametrize(
    "change",
    [
        {"Company": ""}, {"Company": None}, {"Company": 3}, {"Company": "x" * (MAX_ANSWER + 1)},
        {"Country": "Narnia"}, {"Start": "31/01/2026"}, {"Start": "2026-02-30"},
        {"Use": "research"}, {"Use": "Other"}, {"Agree": "off"}, {"Agree": False},
        {"Unknown": "x"},
    ],
)  # fmt: skip
def test_bad_answers_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        check_answers(gate_form(CARD), {**GOOD, **change})


def test_a_missing_answer_is_refused() -> None:
    answers = dict(GOOD)
    del answers["Country"]
    with pytest.raises(BadRequest, match="Country"):
        check_answers(gate_form(CARD), answers)


def test_a_huge_form_is_cut() -> None:
    fields = {f"field {n}": "text" for n in range(500)}
    assert len(gate_form({"extra_gated_fields": fields}).fields) == 50

"""The access request form a gated repo's card defines (`extra_gated_*` metadata), and the check
of a requester's answers against it.

HF's card syntax (docs `models-gated.md`): `extra_gated_fields` maps each label to a type,
`text`, `checkbox`, `date_picker` or `country`, or to `{type: select, options: [...]}` where an
option is a string or `{label, value}`. Every field must be answered; a checkbox must be ticked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hugbox.errors import BadRequest, RevisionNotFound
from hugbox.gated.countries import COUNTRIES
from hugbox.repos import browse
from hugbox.repos.models import Repo
from hugbox.repos.store import RepoStore

KINDS = ("text", "checkbox", "date_picker", "country", "select")
MAX_FIELDS = 50
MAX_ANSWER = 1000  # characters of one answer
MAX_LABEL = 200
_COUNTRIES = frozenset(COUNTRIES)
_TICKED = {True, "on", "true", "yes", "1", "checked"}


@dataclass(frozen=True)
class GateField:
    label: str
    kind: str  # one of KINDS
    options: tuple[tuple[str, str], ...] = ()  # a select's (value, label) pairs


@dataclass(frozen=True)
class GateForm:
    heading: str
    prompt: str
    description: str
    button: str
    fields: tuple[GateField, ...]


NO_FORM = GateForm(heading="", prompt="", description="", button="", fields=())


def gate_form(card: Mapping[str, Any]) -> GateForm:
    """The form the card describes; metadata it cannot read leaves the part it concerns out."""
    raw = card.get("extra_gated_fields")
    fields = raw if isinstance(raw, Mapping) else {}
    return GateForm(
        heading=_text(card.get("extra_gated_heading")),
        prompt=_text(card.get("extra_gated_prompt")),
        description=_text(card.get("extra_gated_description")),
        button=_text(card.get("extra_gated_button_content")) or "Ask for access",
        fields=tuple(
            _field(str(label)[:MAX_LABEL], spec)
            for label, spec in list(fields.items())[:MAX_FIELDS]
        ),
    )


def repo_gate_form(store: RepoStore, repo: Repo) -> GateForm:
    """The form of the card on the repo's main branch (none without one)."""
    try:
        card = browse.overview(store, repo, "main").snapshot.card
    except RevisionNotFound:  # main deleted: nothing to read the form from
        card = {}
    return gate_form(card)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _field(label: str, spec: Any) -> GateField:
    kind = spec.get("type") if isinstance(spec, Mapping) else spec
    if kind not in KINDS:
        kind = "text"  # a type this hub does not know still asks for an answer
    options = spec.get("options") if isinstance(spec, Mapping) else None
    return GateField(label, str(kind), _options(options) if kind == "select" else ())


def _options(options: Any) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for option in options if isinstance(options, list) else []:
        if isinstance(option, Mapping):
            value = str(option.get("value", option.get("label", "")))
            found.append((value, str(option.get("label", value))))
        elif option is not None:
            found.append((str(option), str(option)))
    return tuple(found)


def check_answers(form: GateForm, answers: Mapping[str, Any]) -> dict[str, Any]:
    """The answers to store, one per field; a 400 naming the first field that is missing,
    unknown or wrong."""
    labels = {field.label for field in form.fields}
    unknown = [str(key) for key in answers if key not in labels]
    if unknown:
        raise BadRequest(f"Unknown field {unknown[0][:MAX_LABEL]!r}: this form has no such field")
    return {field.label: _answer(field, answers.get(field.label)) for field in form.fields}


def _answer(field: GateField, value: Any) -> Any:
    if field.kind == "checkbox":
        if value not in _TICKED and str(value).lower() not in _TICKED:
            raise BadRequest(f"Tick {field.label!r} to ask for access")
        return True
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"Answer {field.label!r}: every field of the form is required")
    value = value.strip()
    if len(value) > MAX_ANSWER:
        raise BadRequest(f"The answer to {field.label!r} is too long (at most {MAX_ANSWER})")
    _check_choice(field, value)
    return value


def _check_choice(field: GateField, value: str) -> None:
    if field.kind == "country" and value not in _COUNTRIES:
        raise BadRequest(f"Choose a country from the list for {field.label!r}")
    if field.kind == "select" and value not in {v for v, _ in field.options}:
        raise BadRequest(f"Choose one of the options for {field.label!r}")
    if field.kind == "date_picker":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise BadRequest(f"Give a date (YYYY-MM-DD) for {field.label!r}") from None

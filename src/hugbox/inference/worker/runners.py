"""Stand-ins for the pipelines transformers 5 removed: summarization, translation,
text2text-generation and question-answering.

A runner is called the way the worker calls a pipeline, `runner(inputs, **kwargs)` or
`runner([...], batch_size=n, **kwargs)`, and returns what the old pipeline returned: per text a
list of `{"summary_text" | "translation_text" | "generated_text": ...}`, and for a question one
`{"answer", "score", "start", "end"}` (a list of them when several answers are asked for). `shapes`
turns those into the wire format. Bad input raises ValueError or TypeError (HTTP 400).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from hugbox.inference.worker import answering

_RESULT_KEYS = {
    "summarization": "summary_text",
    "translation": "translation_text",
    "text2text-generation": "generated_text",
}
_LENGTHS = frozenset({"max_length", "min_length", "max_new_tokens", "min_new_tokens"})


class TaskRunner(Protocol):
    """What the worker needs of a pipeline: calling it, and its model and tokenizer."""

    model: Any
    tokenizer: Any

    def __call__(self, inputs: Any, batch_size: int | None = None, **kwargs: Any) -> Any: ...


def load(task: str, model_dir: Path, dtype: Any = "auto") -> TaskRunner | None:
    """The runner for `task`, or None when transformers still has a pipeline for it; `dtype` as
    transformers' loaders take it."""
    import transformers

    if task in _RESULT_KEYS:
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        model = transformers.AutoModelForSeq2SeqLM.from_pretrained(model_dir, dtype=dtype)
        return Seq2SeqRunner(task, model.eval(), tokenizer)
    if task == "question-answering":
        tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
        if not tokenizer.is_fast:
            raise TypeError("question-answering needs a fast (tokenizers-backed) tokenizer")
        model = transformers.AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=dtype)
        return answering.QuestionAnsweringRunner(model.eval(), tokenizer)
    return None


@dataclass
class Seq2SeqRunner:
    """Text in, generated text out, with the model's per-task prefix and generation presets
    (T5's "summarize: ", num_beams=4, ...) and, for translation, its languages."""

    task: str
    model: Any
    tokenizer: Any

    def __call__(self, inputs: Any, batch_size: int | None = None, **kwargs: Any) -> Any:
        texts = _text_list(inputs)
        clean_up = bool(kwargs.pop("clean_up_tokenization_spaces", False))
        # One text per row: every strategy but do_not_truncate means "cut it to the model's
        # length" (only_second, taken literally, would fail on a text without a pair).
        truncation = kwargs.pop("truncation", "do_not_truncate") != "do_not_truncate"
        src_lang, tgt_lang = kwargs.pop("src_lang", None), kwargs.pop("tgt_lang", None)
        prefix, presets = self.prepare(src_lang, tgt_lang)
        options = generate_options(presets, kwargs)
        # Padding a batch needs a pad token; without one, texts go one at a time.
        size = (batch_size or len(texts)) if self.tokenizer.pad_token_id is not None else 1
        results: list[list[dict[str, str]]] = []
        for chunk in _chunks([prefix + text for text in texts], size):
            results += self._generate(chunk, options, truncation=truncation, clean_up=clean_up)
        return results[0] if isinstance(inputs, str) else results

    def prepare(self, src_lang: str | None, tgt_lang: str | None) -> tuple[str, dict[str, Any]]:
        """The prefix and generate() presets for this call; a multilingual tokenizer is switched
        to the source language and generation forced to start in the target one."""
        presets = getattr(self.model.config, "task_specific_params", None) or {}
        if self.task == "translation" and hasattr(self.tokenizer, "src_lang"):
            # Checked before use: an unknown code fails in tokenizer-specific ways, or not at all.
            language_id(self.tokenizer, src_lang, "src_lang")
            target = language_id(self.tokenizer, tgt_lang, "tgt_lang")
            self.tokenizer.src_lang = src_lang  # it then adds the source code to the inputs
            return "", {"forced_bos_token_id": target}
        key = translation_key(presets, src_lang, tgt_lang) if self.task == "translation" else None
        params = dict(presets.get(key or self.task) or {})
        prefix = params.pop("prefix", None) or getattr(self.model.config, "prefix", None) or ""
        config = self.model.generation_config
        return str(prefix), {k: v for k, v in params.items() if hasattr(config, k)}

    def _generate(
        self, texts: list[str], options: dict[str, Any], *, truncation: bool, clean_up: bool
    ) -> list[list[dict[str, str]]]:
        import torch

        encoded = self.tokenizer(
            texts, padding=len(texts) > 1, truncation=truncation, return_tensors="pt"
        )
        encoded.pop("token_type_ids", None)  # seq2seq models take none
        with torch.inference_mode():
            output = self.model.generate(**encoded, **options)
        decoded = self.tokenizer.batch_decode(
            output, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up
        )
        per_text = len(decoded) // len(texts)  # num_return_sequences, consecutive
        key = _RESULT_KEYS[self.task]
        return [
            [{key: text} for text in decoded[i : i + per_text]]
            for i in range(0, len(decoded), per_text)
        ]


def _text_list(inputs: object) -> list[str]:
    if isinstance(inputs, str):
        return [inputs]
    if isinstance(inputs, list) and inputs and all(isinstance(item, str) for item in inputs):
        return inputs
    raise TypeError("inputs must be a string or a non-empty list of strings")


def generate_options(presets: dict[str, Any], requested: dict[str, Any]) -> dict[str, Any]:
    """The request's generate() arguments over the model's presets for the task, minus presets
    that would contradict the request: asked lengths replace preset lengths as a group (a preset
    `min_length` of 30 next to an asked `max_new_tokens` of 5 fails), and asking for more
    sequences than the preset `num_beams` gives drops that preset."""
    if not _LENGTHS.isdisjoint(requested):
        presets = {k: v for k, v in presets.items() if k not in _LENGTHS}
    if requested.get("num_return_sequences", 1) > presets.get("num_beams", 1):
        presets = {k: v for k, v in presets.items() if k != "num_beams"}
    return {**presets, **requested}


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), max(size, 1)):
        yield items[start : start + max(size, 1)]


def translation_key(presets: dict[str, Any], src_lang: str | None, tgt_lang: str | None) -> str:
    """The `translation_XX_to_YY` entry of a model's task_specific_params for the asked
    languages; the first one when none are asked (what the old pipeline picked); "translation"
    for a model that lists no pairs (it translates one fixed pair, languages are not checked)."""
    pairs = {
        key: (parts[1], parts[3])
        for key in presets
        if len(parts := key.split("_")) == 4 and parts[0] == "translation" and parts[2] == "to"
    }
    if not pairs:
        return "translation"
    for key, (source, target) in pairs.items():
        if src_lang in (None, source) and tgt_lang in (None, target):
            return key
    known = ", ".join(f"{source}→{target}" for source, target in pairs.values())
    raise ValueError(
        f"This model does not translate `src_lang`={src_lang!r} to `tgt_lang`={tgt_lang!r}; "
        f"it knows {known}"
    )


def language_id(tokenizer: Any, code: str | None, name: str) -> int:
    """The token id of a language code on a multilingual tokenizer (NLLB, mBART, M2M100)."""
    if not code:
        raise ValueError(
            f"This model translates between many languages: give `{name}` in `parameters`, as a "
            "language code its tokenizer knows (such as eng_Latn for NLLB, en_XX for mBART)"
        )
    try:
        # M2M100 maps a code ("fr") to its own token ("__fr__"); the others use the code itself.
        get_lang_id = getattr(tokenizer, "get_lang_id", None)
        token_id = get_lang_id(code) if get_lang_id else tokenizer.convert_tokens_to_ids(code)
    except KeyError:
        token_id = None
    if not isinstance(token_id, int) or token_id == tokenizer.unk_token_id:
        raise ValueError(f"`{name}` {code!r} is not a language code this model's tokenizer knows")
    return token_id

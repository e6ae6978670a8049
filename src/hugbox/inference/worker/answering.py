"""Extractive question answering, as transformers' removed question-answering pipeline did it:
long contexts read in overlapping windows, the best token spans mapped back to characters."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

_MAX_SEQ_LEN = 384  # the old pipeline's window when the request names none
_MAX_STRIDE = 128


@dataclass(frozen=True)
class Span:
    """Candidate answer: first and last token of a window, and P(start) * P(end)."""

    start: int
    end: int
    score: float


@dataclass
class QuestionAnsweringRunner:
    model: Any
    tokenizer: Any

    def __call__(self, inputs: Any, batch_size: int | None = None, **kwargs: Any) -> Any:
        if isinstance(inputs, list):
            return [self.answer(*_question_and_context(item), **kwargs) for item in inputs]
        return self.answer(*_question_and_context(inputs), **kwargs)

    def answer(
        self, question: str, context: str, *, top_k: int = 1, doc_stride: int | None = None,
        max_answer_len: int = 15, max_seq_len: int | None = None, max_question_len: int = 64,
        handle_impossible_answer: bool = False, align_to_words: bool = True,
    ) -> dict[str, Any] | list[dict[str, Any]]:  # fmt: skip
        """The `top_k` best answers (a dict for one); "" at 0:0 competes with them when the
        question may have none in the context."""
        if top_k < 1 or max_answer_len < 1 or max_question_len < 1:
            raise ValueError("`top_k`, `max_answer_len` and `max_question_len` must be >= 1")
        question = clip_question(self.tokenizer, question, max_question_len)
        encoded = self._encode(question, context, max_seq_len, doc_stride)
        answers, null_score = self._candidates(
            encoded, context, top_k, max_answer_len, align_to_words
        )
        if handle_impossible_answer:
            answers.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
        answers = _best_first(answers)[:top_k]
        return answers[0] if len(answers) == 1 else answers

    def _encode(
        self, question: str, context: str, max_seq_len: int | None, doc_stride: int | None
    ) -> Any:
        """Question and context in windows of `max_seq_len` tokens that overlap by `doc_stride`."""
        tokenizer = self.tokenizer
        limit = max_seq_len or default_max_seq_len(tokenizer, self.model.config)
        room = limit - tokenizer.num_special_tokens_to_add(pair=True) - _count(tokenizer, question)
        if room < 1:
            raise ValueError(
                f"The question leaves no room for the context in `max_seq_len`={limit} tokens: "
                "raise `max_seq_len` or lower `max_question_len`"
            )
        stride = min(room // 2, _MAX_STRIDE) if doc_stride is None else doc_stride
        if stride >= room:
            raise ValueError(
                f"`doc_stride`={stride} must be below the {room} context tokens that fit in each "
                f"window of `max_seq_len`={limit} tokens"
            )
        # Tokenizers that pad on the left were trained with the context first.
        question_first = tokenizer.padding_side == "right"
        return tokenizer(
            text=question if question_first else context,
            text_pair=context if question_first else question,
            truncation="only_second" if question_first else "only_first",
            max_length=limit, stride=stride, padding="longest", return_overflowing_tokens=True,
            return_offsets_mapping=True, return_tensors="pt",
        )  # fmt: skip

    def _candidates(
        self, encoded: Any, context: str, top_k: int, max_answer_len: int, align_to_words: bool
    ) -> tuple[list[dict[str, Any]], float]:
        """The best answers of every window, and the lowest "no answer" score among them."""
        import torch

        inputs = {
            name: encoded[name] for name in self.tokenizer.model_input_names if name in encoded
        }
        with torch.inference_mode():
            output = self.model(**inputs)
        context_index = 1 if self.tokenizer.padding_side == "right" else 0
        answers, null_scores = [], []
        for window, encoding in enumerate(encoded.encodings):
            in_context = torch.tensor([i == context_index for i in encoding.sequence_ids])
            is_cls = _is_token(encoded["input_ids"][window], self.tokenizer.cls_token_id)
            starts, ends, null_score = window_probabilities(
                output.start_logits[window], output.end_logits[window], in_context, is_cls
            )
            null_scores += [] if null_score is None else [null_score]
            spans = best_spans(starts, ends, in_context, max_answer_len)
            answers += window_answers(
                encoding, spans, context, context_index, top_k, align_to_words
            )
        return answers, min(null_scores, default=0.0)


def _best_first(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answers by score, each span once: overlapping windows find the same span twice."""
    unique: dict[tuple[int, int], dict[str, Any]] = {}
    for answer in sorted(answers, key=lambda item: float(item["score"]), reverse=True):
        unique.setdefault((answer["start"], answer["end"]), answer)
    return list(unique.values())


def _is_token(ids: Any, token_id: int | None) -> Any:
    import torch

    return ids == token_id if token_id is not None else torch.zeros_like(ids, dtype=torch.bool)


def _question_and_context(inputs: object) -> tuple[str, str]:
    if not isinstance(inputs, dict):
        raise TypeError('question-answering needs inputs {"question": str, "context": str}')
    question, context = inputs.get("question"), inputs.get("context")
    for name, value in (("question", question), ("context", context)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"`{name}` must be a non-empty string")
    return str(question), str(context)


def _count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def default_max_seq_len(tokenizer: Any, config: Any) -> int:
    """384 tokens, or fewer when the tokenizer or the model's positions cannot take that many."""
    positions = getattr(config, "max_position_embeddings", None)
    limits = [_MAX_SEQ_LEN, int(tokenizer.model_max_length)]
    return min(limits + ([positions] if isinstance(positions, int) else []))


def clip_question(tokenizer: Any, question: str, max_question_len: int) -> str:
    """The question cut after its first `max_question_len` tokens."""
    offsets = tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)[
        "offset_mapping"
    ]
    if len(offsets) <= max_question_len:
        return question
    return question[: offsets[max_question_len - 1][1]]


def window_probabilities(
    start_logits: Any, end_logits: Any, in_context: Any, is_cls: Any
) -> tuple[Any, Any, float | None]:
    """P(start) and P(end) per token, and P(no answer) when the window has a CLS token: the
    model points both ends at CLS to say "no answer", so CLS takes part in the softmax."""
    allowed = in_context | is_cls
    starts = start_logits.masked_fill(~allowed, -10000.0).softmax(-1)
    ends = end_logits.masked_fill(~allowed, -10000.0).softmax(-1)
    if not is_cls.any():
        return starts, ends, None
    cls = int(is_cls.nonzero()[0, 0])
    return starts, ends, float(starts[cls] * ends[cls])


def best_spans(starts: Any, ends: Any, allowed: Any, max_answer_len: int) -> Iterator[Span]:
    """Spans of allowed tokens, start <= end < start + max_answer_len, best first."""
    import torch

    valid = torch.outer(allowed, allowed).triu().tril(max_answer_len - 1)
    scores = torch.outer(starts, ends).masked_fill(~valid, -1.0).flatten()
    width = starts.shape[0]
    for index in scores.argsort(descending=True)[: int(valid.sum())].tolist():
        yield Span(index // width, index % width, float(scores[index]))


def window_answers(
    encoding: Any, spans: Iterable[Span], context: str, sequence: int, top_k: int,
    align_to_words: bool,
) -> list[dict[str, Any]]:  # fmt: skip
    """The `top_k` best answers of one window, each character span once: spans of tokens in the
    same words widen to the same characters."""
    found: dict[tuple[int, int], dict[str, Any]] = {}
    for span in spans:
        start, end = char_span(encoding, span, sequence, align_to_words)
        answer = {"score": span.score, "start": start, "end": end, "answer": context[start:end]}
        found.setdefault((start, end), answer)
        if len(found) == top_k:
            break
    return list(found.values())


def char_span(encoding: Any, span: Span, sequence: int, align_to_words: bool) -> tuple[int, int]:
    """Character offsets of a token span in its text; widened to whole words when asked, since a
    best token often sits in the middle of a word."""
    if align_to_words:
        first, last = encoding.token_to_word(span.start), encoding.token_to_word(span.end)
        if first is not None and last is not None:
            first_chars = encoding.word_to_chars(first, sequence)
            last_chars = encoding.word_to_chars(last, sequence)
            if first_chars is not None and last_chars is not None:
                return int(first_chars[0]), int(last_chars[1])
    return int(encoding.offsets[span.start][0]), int(encoding.offsets[span.end][1])

"""The runners that stand in for transformers' removed seq2seq and question-answering pipelines:
their pure helpers, and the runners themselves on tiny random models (no server)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from transformers import BertConfig, BertForQuestionAnswering, T5Config, T5ForConditionalGeneration

from hugbox.inference.worker import answering, runners
from hugbox.inference.worker.answering import Span
from tiny_models import bpe_tokenizer, nllb_tokenizer, wordpiece_tokenizer

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Who rode there?"]
PRESETS = {
    "summarization": {"prefix": "summarize: ", "num_beams": 2, "min_length": 2, "max_length": 9},
    "translation_en_to_fr": {"prefix": "translate English to French: "},
    "translation_en_to_de": {"prefix": "translate English to German: ", "not_generation": 1},
}


# --- translation languages ---------------------------------------------------------------------


def test_translation_key_picks_the_asked_pair() -> None:
    assert runners.translation_key(PRESETS, None, None) == "translation_en_to_fr"  # the first
    assert runners.translation_key(PRESETS, "en", "de") == "translation_en_to_de"
    assert runners.translation_key(PRESETS, None, "de") == "translation_en_to_de"
    assert runners.translation_key({}, "en", "de") == "translation"  # one fixed pair: unchecked


def test_translation_key_names_the_pairs_it_knows() -> None:
    with pytest.raises(ValueError, match="en→fr, en→de"):
        runners.translation_key(PRESETS, "fr", "en")


def test_language_id_on_a_multilingual_tokenizer() -> None:
    tokenizer = nllb_tokenizer()
    assert runners.language_id(tokenizer, "fra_Latn", "tgt_lang") == (
        tokenizer.convert_tokens_to_ids("fra_Latn")
    )
    with pytest.raises(ValueError, match="give `src_lang`"):
        runners.language_id(tokenizer, None, "src_lang")
    with pytest.raises(ValueError, match="'xx_Yyyy' is not a language code"):
        runners.language_id(tokenizer, "xx_Yyyy", "tgt_lang")


def test_generate_options_drop_presets_the_request_contradicts() -> None:
    presets = {"num_beams": 4, "min_length": 30, "max_length": 200, "length_penalty": 2.0}
    greedy = runners.generate_options(presets, {"do_sample": False})
    assert greedy == {**presets, "do_sample": False}
    assert runners.generate_options(presets, {"max_new_tokens": 5}) == {
        "num_beams": 4, "length_penalty": 2.0, "max_new_tokens": 5
    }  # fmt: skip
    sampled = runners.generate_options(presets, {"do_sample": True, "num_return_sequences": 5})
    assert "num_beams" not in sampled
    assert runners.generate_options(presets, {"num_beams": 1})["num_beams"] == 1


# --- seq2seq on a tiny T5 ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tiny-t5")
    tokenizer = bpe_tokenizer(TEXT)
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=16, d_kv=8, d_ff=16, num_layers=1, num_heads=2,
        pad_token_id=eos, eos_token_id=eos, decoder_start_token_id=eos,
        task_specific_params=PRESETS,
    )  # fmt: skip
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def _seq2seq(task: str, folder: Path) -> runners.Seq2SeqRunner:
    runner = runners.load(task, folder)
    assert isinstance(runner, runners.Seq2SeqRunner)
    return runner


def test_task_presets_give_the_prefix_and_generation_defaults(t5_dir: Path) -> None:
    summarize = _seq2seq("summarization", t5_dir).prepare(None, None)
    assert summarize == ("summarize: ", {"num_beams": 2, "min_length": 2, "max_length": 9})
    translate = _seq2seq("translation", t5_dir)
    prefix, _ = translate.prepare(None, None)  # a pair the model knows (config.json sorts them)
    assert prefix in {"translate English to French: ", "translate English to German: "}
    # Keys generate() does not know stay out: they would fail every call.
    assert translate.prepare("en", "de") == ("translate English to German: ", {})
    assert _seq2seq("text2text-generation", t5_dir).prepare(None, None) == ("", {})


def test_seq2seq_answers_per_text(t5_dir: Path) -> None:
    runner = _seq2seq("summarization", t5_dir)
    [one] = runner(TEXT[0], max_new_tokens=2, do_sample=False)
    assert isinstance(one["summary_text"], str)
    several = runner(TEXT[:2], max_new_tokens=2, do_sample=True, num_return_sequences=3)
    assert [[set(item) for item in items] for items in several] == [[{"summary_text"}] * 3] * 2
    batched = runner(TEXT, batch_size=2, max_new_tokens=2, do_sample=False)
    assert len(batched) == 3 and all(len(items) == 1 for items in batched)


def test_seq2seq_refuses_what_is_not_text(t5_dir: Path) -> None:
    runner = _seq2seq("text2text-generation", t5_dir)
    for bad in (3, [], ["a", 2]):
        with pytest.raises(TypeError):
            runner(bad)


def test_only_the_tasks_without_a_pipeline_get_a_runner(t5_dir: Path) -> None:
    assert runners.load("text-generation", t5_dir) is None


# --- question answering ------------------------------------------------------------------------


def test_best_spans_are_ordered_bounded_and_allowed() -> None:
    starts = torch.tensor([0.5, 0.1, 0.3, 0.1])
    ends = torch.tensor([0.1, 0.2, 0.1, 0.6])
    allowed = torch.tensor([False, True, True, True])
    spans = list(answering.best_spans(starts, ends, allowed, max_answer_len=2))
    assert [(s.start, s.end) for s in spans] == [(2, 3), (3, 3), (2, 2), (1, 1), (1, 2)]
    assert spans[0].score == pytest.approx(0.3 * 0.6)
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)


def test_window_probabilities_and_the_no_answer_score() -> None:
    logits = torch.tensor([2.0, 1.0, 1.0, 5.0])
    in_context = torch.tensor([False, True, True, False])
    no_cls = torch.zeros(4, dtype=torch.bool)
    starts, ends, null = answering.window_probabilities(logits, logits, in_context, no_cls)
    assert null is None
    assert starts.tolist() == pytest.approx([0.0, 0.5, 0.5, 0.0])
    cls = torch.tensor([True, False, False, False])
    starts, ends, null = answering.window_probabilities(logits, logits, in_context, cls)
    assert float(starts.sum()) == pytest.approx(1.0)
    assert null == pytest.approx(float(starts[0] * ends[0]))


def test_question_and_window_limits() -> None:
    tokenizer = wordpiece_tokenizer(TEXT)
    assert answering.clip_question(tokenizer, "Who rode to the castle?", 2) == "Who rode"
    assert answering.clip_question(tokenizer, "Who rode?", 64) == "Who rode?"
    small = SimpleNamespace(max_position_embeddings=64)
    assert answering.default_max_seq_len(tokenizer, small) == 64
    assert answering.default_max_seq_len(tokenizer, SimpleNamespace()) == 384


def test_window_answers_give_each_character_span_once() -> None:
    tokenizer = wordpiece_tokenizer(["castle"])  # "castles" splits into castle ##s
    encoding = tokenizer("Who?", "castles fall").encodings[0]
    i = encoding.tokens.index("castle")
    assert encoding.tokens[i + 1] == "##s"
    spans = [Span(i, i, 0.5), Span(i + 1, i + 1, 0.4), Span(i, i + 1, 0.3), Span(i + 2, i + 2, 0.2)]
    answers = answering.window_answers(encoding, spans, "castles fall", 1, 2, True)
    assert [a["answer"] for a in answers] == ["castles", "fall"]
    exact = answering.window_answers(encoding, spans, "castles fall", 1, 2, False)
    assert [a["answer"] for a in exact] == ["castle", "s"]


@pytest.fixture(scope="module")
def qa_runner(tmp_path_factory: pytest.TempPathFactory) -> answering.QuestionAnsweringRunner:
    folder = tmp_path_factory.mktemp("tiny-qa")
    tokenizer = wordpiece_tokenizer(TEXT)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=32,
    )  # fmt: skip
    BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    runner = runners.load("question-answering", folder)
    assert isinstance(runner, answering.QuestionAnsweringRunner)
    return runner


def test_answers_point_into_a_long_context(qa_runner: answering.QuestionAnsweringRunner) -> None:
    context = " ".join(TEXT[:2] * 10)  # far more than one window of 32 tokens
    answers = qa_runner({"question": TEXT[2], "context": context}, top_k=4, max_answer_len=3)
    assert isinstance(answers, list) and len(answers) == 4
    assert len({(a["start"], a["end"]) for a in answers}) == 4
    for answer in answers:
        assert answer["answer"] == context[answer["start"] : answer["end"]]
    one = qa_runner({"question": TEXT[2], "context": context}, max_answer_len=3)
    assert isinstance(one, dict) and one == answers[0]


def test_the_empty_answer_competes_when_asked(qa_runner: answering.QuestionAnsweringRunner) -> None:
    inputs = {"question": TEXT[2], "context": TEXT[0]}
    answers = qa_runner(inputs, top_k=50, handle_impossible_answer=True)
    assert isinstance(answers, list)
    [empty] = [a for a in answers if a["answer"] == ""]
    assert empty["start"] == empty["end"] == 0
    assert 0 <= empty["score"] <= 1


@pytest.mark.parametrize(
    "kwargs",
    [{"top_k": 0}, {"max_answer_len": 0}, {"doc_stride": 40}, {"max_seq_len": 5}],
)
def test_bad_question_answering_options(
    qa_runner: answering.QuestionAnsweringRunner, kwargs: dict[str, int]
) -> None:
    with pytest.raises(ValueError):
        qa_runner({"question": TEXT[2], "context": TEXT[0]}, **kwargs)

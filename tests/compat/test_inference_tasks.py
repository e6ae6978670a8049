"""Summarization, translation, text2text-generation and question-answering — tasks transformers
5 has no pipeline for — with the real InferenceClient, on tiny random models built here.

Random weights write random text: the tests check shapes, types and invariants, not content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from huggingface_hub import InferenceClient
from huggingface_hub.errors import BadRequestError
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForQuestionAnswering,
    M2M100Config,
    M2M100ForConditionalGeneration,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    T5Config,
    T5ForConditionalGeneration,
)

from support import Hub, unique
from tiny_models import bpe_tokenizer, nllb_tokenizer, wordpiece_tokenizer

pytestmark = pytest.mark.compat

TEXT = ["The knight rode to the castle.", "A story about a brave knight.", "Who rode there?"]
CONTEXT = "The knight rode to the castle. The castle stood on a hill above the river."
SHORT = {"max_new_tokens": 3}  # random weights rarely stop by themselves: keep generation short
T5_PRESETS = {
    "summarization": {"prefix": "summarize: ", "num_beams": 2, "min_length": 2},
    "translation_en_to_fr": {"prefix": "translate English to French: "},
    "translation_en_to_de": {"prefix": "translate English to German: "},
}


def _import(
    hub: Hub, folder: Path, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, tag: str
) -> str:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    if tag:
        (folder / "README.md").write_text(f"---\npipeline_tag: {tag}\n---\n# {folder.name}\n")
    repo_id = f"alice/{unique(folder.name)}"
    result = hub.cli("import", str(folder), repo_id)
    assert result.returncode == 0, result.stderr
    return repo_id


def _seq2seq_sizes() -> dict[str, int]:
    return {"d_model": 32, "encoder_layers": 1, "decoder_layers": 1, "encoder_attention_heads": 2,
            "decoder_attention_heads": 2, "encoder_ffn_dim": 37, "decoder_ffn_dim": 37,
            "max_position_embeddings": 64}  # fmt: skip


@pytest.fixture(scope="module")
def bart_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A summarizer, by its model card."""
    tokenizer = bpe_tokenizer(TEXT)
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=len(tokenizer), pad_token_id=eos, bos_token_id=eos, eos_token_id=eos,
        decoder_start_token_id=eos, forced_eos_token_id=None, **_seq2seq_sizes(),
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-bart")
    return _import(hub, folder, BartForConditionalGeneration(config), tokenizer, "summarization")


@pytest.fixture(scope="module")
def t5_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A translator that knows two pairs through T5-style task presets (prefixes)."""
    tokenizer = bpe_tokenizer(TEXT)
    eos = tokenizer.eos_token_id
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=len(tokenizer), d_model=32, d_kv=16, d_ff=37, num_layers=1, num_heads=2,
        pad_token_id=eos, eos_token_id=eos, decoder_start_token_id=eos,
        task_specific_params=T5_PRESETS,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-t5")
    return _import(hub, folder, T5ForConditionalGeneration(config), tokenizer, "translation")


@pytest.fixture(scope="module")
def nllb_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A many-to-many translator: NLLB's tokenizer, languages as codes such as fra_Latn."""
    tokenizer = nllb_tokenizer()
    torch.manual_seed(0)
    config = M2M100Config(
        vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id, **_seq2seq_sizes(),
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-nllb")
    return _import(hub, folder, M2M100ForConditionalGeneration(config), tokenizer, "translation")


@pytest.fixture(scope="module")
def qa_id(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> str:
    """Extractive QA; its task comes from the architecture, with no model card."""
    tokenizer = wordpiece_tokenizer([*TEXT, CONTEXT])
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=64,
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("tiny-qa")
    return _import(hub, folder, BertForQuestionAnswering(config), tokenizer, "")


def _url(hub: Hub, repo_id: str) -> str:
    return f"{hub.endpoint}/models/{repo_id}"


def _client(hub: Hub, repo_id: str) -> InferenceClient:
    return InferenceClient(model=_url(hub, repo_id), token=hub.alice)


def _post(hub: Hub, url: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {hub.alice}"}
    return httpx.post(url, json=body, headers=headers, timeout=120)


def test_summarization(hub: Hub, bart_id: str) -> None:
    client = _client(hub, bart_id)
    summary = client.summarization(TEXT[0], generate_parameters=SHORT)
    assert isinstance(summary.summary_text, str)
    cleaned = client.summarization(
        TEXT[0], clean_up_tokenization_spaces=True, truncation="longest_first",
        generate_parameters={**SHORT, "num_beams": 2},
    )  # fmt: skip
    assert isinstance(cleaned.summary_text, str)
    several = _post(hub, _url(hub, bart_id), {"inputs": TEXT[:2], "parameters": SHORT})
    assert several.status_code == 200, several.text
    assert [[set(item) for item in items] for items in several.json()] == [[{"summary_text"}]] * 2


def test_text2text_generation_forced_on_a_summarizer(hub: Hub, bart_id: str) -> None:
    url = f"{_url(hub, bart_id)}/pipeline/text2text-generation"
    response = _post(hub, url, {"inputs": TEXT[0], "parameters": SHORT})
    assert response.status_code == 200, response.text
    [generated] = response.json()
    assert isinstance(generated["generated_text"], str)
    body = {
        "inputs": TEXT[0],
        "parameters": {**SHORT, "do_sample": True, "num_return_sequences": 2},
    }
    sampled = _post(hub, url, body)
    assert sampled.status_code == 200, sampled.text
    assert [set(item) for item in sampled.json()] == [{"generated_text"}] * 2


def test_translation_by_task_presets(hub: Hub, t5_id: str) -> None:
    client = _client(hub, t5_id)
    default = client.translation(TEXT[0], generate_parameters=SHORT)
    german = client.translation(TEXT[0], src_lang="en", tgt_lang="de", generate_parameters=SHORT)
    assert isinstance(default.translation_text, str)
    assert isinstance(german.translation_text, str)
    with pytest.raises(BadRequestError, match="en→fr"):
        client.translation(TEXT[0], src_lang="en", tgt_lang="ja")


def test_translation_between_many_languages(hub: Hub, nllb_id: str) -> None:
    client = _client(hub, nllb_id)
    french = client.translation(
        TEXT[0], src_lang="eng_Latn", tgt_lang="fra_Latn", generate_parameters=SHORT
    )
    assert isinstance(french.translation_text, str)
    with pytest.raises(BadRequestError, match="xx_Yyyy"):
        client.translation(TEXT[0], src_lang="xx_Yyyy", tgt_lang="fra_Latn")


def test_question_answering(hub: Hub, qa_id: str) -> None:
    client = _client(hub, qa_id)
    best = client.question_answering(question=TEXT[2], context=CONTEXT)
    assert not isinstance(best, list)
    assert 0 <= best.start < best.end <= len(CONTEXT)
    assert best.answer == CONTEXT[best.start : best.end]
    top = client.question_answering(question=TEXT[2], context=CONTEXT, top_k=3, max_answer_len=4)
    first = client.question_answering(question=TEXT[2], context=CONTEXT, max_answer_len=4)
    assert isinstance(top, list) and len(top) == 3
    assert not isinstance(first, list)
    assert (first.start, first.end) == (top[0].start, top[0].end)
    assert [a.score for a in top] == sorted((a.score for a in top), reverse=True)
    for answer in top:
        assert answer.answer == CONTEXT[answer.start : answer.end]
    assert len({(a.start, a.end) for a in top}) == 3


def test_question_answering_reads_long_contexts_in_windows(hub: Hub, qa_id: str) -> None:
    context = " ".join([CONTEXT] * 12)  # ~250 tokens: several windows of at most 64
    answers = _client(hub, qa_id).question_answering(
        question=TEXT[2], context=context, top_k=5, doc_stride=16, handle_impossible_answer=True
    )
    assert isinstance(answers, list) and len(answers) == 5
    for answer in answers:
        assert answer.answer == context[answer.start : answer.end]
    assert max(a.end for a in answers) <= len(context)


@pytest.mark.parametrize(
    ("task", "body"),
    [
        ("summarization", {"inputs": 3}),
        ("summarization", {"inputs": []}),
        ("summarization", {"inputs": "x", "parameters": {"generate_parameters": "short"}}),
        ("summarization", {"inputs": "x", "parameters": {"truncation": "sideways"}}),
        ("text2text-generation", {"inputs": {"text": "x"}}),
        ("text2text-generation", {"inputs": "x", "parameters": {"max_new_tokens": 0}}),
        ("translation", {"inputs": "x", "parameters": {"src_lang": 5}}),
        ("question-answering", {"inputs": "just a string"}),
        ("question-answering", {"inputs": {"question": "Who?"}}),
        ("question-answering", {"inputs": {"question": "", "context": CONTEXT}}),
        ("question-answering", {"inputs": {"question": "Who?", "context": " "}}),
        ("question-answering", {"inputs": {"question": "Who?", "context": CONTEXT},
                                "parameters": {"top_k": 0}}),
        ("question-answering", {"inputs": {"question": "Who?", "context": CONTEXT},
                                "parameters": {"doc_stride": 500}}),
        ("question-answering", {"inputs": {"question": "Who rode?", "context": CONTEXT},
                                "parameters": {"max_seq_len": 4}}),
    ],
)  # fmt: skip
def test_malformed_bodies_are_400(
    hub: Hub, bart_id: str, qa_id: str, task: str, body: dict[str, Any]
) -> None:
    model = qa_id if task == "question-answering" else bart_id
    response = _post(hub, f"{_url(hub, model)}/pipeline/{task}", body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]


def test_languages_are_checked_by_the_model(hub: Hub, t5_id: str, nllb_id: str) -> None:
    cases = [
        (t5_id, {"src_lang": "fr", "tgt_lang": "en"}),
        (nllb_id, {}),
        (nllb_id, {"src_lang": "eng_Latn", "tgt_lang": "klingon"}),
    ]
    for repo_id, languages in cases:
        body = {"inputs": TEXT[0], "parameters": {**languages, **SHORT}}
        response = _post(hub, _url(hub, repo_id), body)
        assert response.status_code == 400, (languages, response.text)
        assert "lang" in response.json()["error"]

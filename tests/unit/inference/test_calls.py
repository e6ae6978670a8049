"""Request bodies as InferenceClient 2.4 sends them, to pipeline calls; pipeline outputs to the
shapes it parses (spec §2.3, §2.5). Raw outputs are literals of what transformers 5 returns."""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from typing import Any

import pytest

from hugbox.inference.calls import (
    SUPPORTED_TASKS,
    PipelineCall,
    TaskError,
    cache_key,
    prepare_call,
    resolve_task,
    shape_output,
)
from hugbox.inference.worker.generation import Generated

SHA = "a" * 40
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))


def _call(task: str, body: dict[str, Any], *, st: bool = False) -> PipelineCall:
    return prepare_call(task, body, sentence_transformers=st)


def _body(inputs: object, **params: object) -> dict[str, Any]:
    return {"inputs": inputs, "parameters": params}


SIMILARITY = {"source_sentence": "a", "sentences": ["b"]}


# --- resolve_task ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "forced", "inputs", "expected"),
    [
        ("text-classification", None, "hi", "text-classification"),
        ("sentence-similarity", None, "hi", "feature-extraction"),
        ("sentence-similarity", None, ["a", "b"], "feature-extraction"),
        ("sentence-similarity", None, SIMILARITY, "sentence-similarity"),
        ("feature-extraction", None, SIMILARITY, "sentence-similarity"),
        ("feature-extraction", None, "hi", "feature-extraction"),
        ("sentence-similarity", "feature-extraction", "hi", "feature-extraction"),
        ("feature-extraction", "sentence-similarity", {"sentences": []}, "sentence-similarity"),
        (None, "fill-mask", "a [MASK]", "fill-mask"),
        ("text-to-image", "feature-extraction", "hi", "feature-extraction"),
    ],
)
def test_resolve_task(tag: str | None, forced: str | None, inputs: object, expected: str) -> None:
    assert resolve_task(pipeline_tag=tag, forced=forced, inputs=inputs) == expected


@pytest.mark.parametrize(
    ("tag", "forced", "words"),
    [
        (None, None, "no `pipeline_tag`"),
        ("text-to-image", None, "`text-to-image` is not supported"),
        ("text-classification", "image-to-text", "`image-to-text` is not supported"),
    ],
)
def test_resolve_task_refuses_with_the_supported_tasks(
    tag: str | None, forced: str | None, words: str
) -> None:
    with pytest.raises(TaskError) as caught:
        resolve_task(pipeline_tag=tag, forced=forced, inputs="hi")
    assert words in str(caught.value)
    assert all(task in str(caught.value) for task in SUPPORTED_TASKS)


# --- prepare_call: the bodies of spec §2.3 -----------------------------------------------------


def _classic(task: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> PipelineCall:
    return PipelineCall(task, args, kwargs, task, batchable=isinstance(args[0], str | bytes))


QA = {"question": "Who?", "context": "Me."}
ECHO = {"__return_full_text__": True, "__details__": False}  # a text-generation call's defaults
B64 = base64.b64encode(PNG).decode()
# (the body InferenceClient 2.4 sends, the call it must become)
CLIENT_BODIES = {
    "text_generation": (
        _body("p", max_new_tokens=5),
        PipelineCall(
            "text-generation",
            ("p",),
            {"max_new_tokens": 5, **ECHO, "do_sample": False},
            "text-generation",
        ),
    ),
    "fill_mask": (_body("a [MASK]."), _classic("fill-mask", ("a [MASK].",), {})),
    "text_classification": (
        _body("I like you", top_k=2),
        _classic("text-classification", ("I like you",), {"top_k": 2}),
    ),
    "token_classification": (
        _body("Sarah lives in Paris", aggregation_strategy="simple"),
        _classic(
            "token-classification", ("Sarah lives in Paris",), {"aggregation_strategy": "simple"}
        ),
    ),
    "question_answering": (
        _body(QA),
        PipelineCall("question-answering", (QA,), {}, "question-answering"),
    ),
    "zero_shot_classification": (
        _body("I won", candidate_labels=["sport", "war"], multi_label=False),
        _classic(
            "zero-shot-classification",
            ("I won",),
            {"candidate_labels": ["sport", "war"], "multi_label": False},
        ),
    ),
    "sentence_similarity": (
        _body({"source_sentence": "a", "sentences": ["b", "c"]}),
        PipelineCall(
            "feature-extraction",
            (["a", "b", "c"],),
            {"truncation": True},
            "similarity",
            pooling=True,
        ),
    ),
    "summarization": (
        _body("long text", generate_parameters={"max_new_tokens": 20, "num_beams": 2}),
        PipelineCall(
            "summarization",
            ("long text",),
            {"max_new_tokens": 20, "num_beams": 2, "do_sample": False},
            "summarization",
        ),
    ),
    "translation": (
        _body("Hello", src_lang="en", tgt_lang="fr"),
        PipelineCall(
            "translation",
            ("Hello",),
            {"do_sample": False, "src_lang": "en", "tgt_lang": "fr"},
            "translation",
        ),
    ),
    "image_classification raw": ({"inputs": PNG}, _classic("image-classification", (PNG,), {})),
    "image_classification top_k": (
        _body(B64, top_k=3),
        _classic("image-classification", (PNG,), {"top_k": 3}),
    ),
}


@pytest.mark.parametrize("method", CLIENT_BODIES)
def test_client_bodies(method: str) -> None:
    body, expected = CLIENT_BODIES[method]
    task = method.split()[0].replace("_", "-")
    assert _call(task, body) == expected


def test_client_body_details_and_stream_are_accepted() -> None:
    body = {"inputs": "p", "parameters": {"details": True, "max_new_tokens": 5}, "stream": True}
    assert _call("text-generation", body).kwargs == {
        "max_new_tokens": 5,
        "__return_full_text__": True,
        "__details__": True,
        "do_sample": False,
    }


def test_feature_extraction_reads_parameters_at_the_root() -> None:
    call = _call("feature-extraction", {"inputs": "hello", "normalize": True}, st=True)
    assert call == PipelineCall(
        "feature-extraction", ("hello",), {"truncation": True}, "feature-extraction",
        pooling=True, normalize=True, batchable=True,
    )  # fmt: skip
    under = _call(
        "feature-extraction", {"inputs": ["a"], "parameters": {"normalize": True}}, st=True
    )
    assert (under.args, under.normalize, under.batchable) == ((["a"],), True, False)
    root_wins = {"inputs": "a", "parameters": {"normalize": False}, "normalize": True}
    assert _call("feature-extraction", root_wins, st=True).normalize


def test_feature_extraction_options() -> None:
    body = {"inputs": "q", "truncate": False, "prompt_name": "query", "dimensions": 8, "x": 1}
    assert _call("feature-extraction", body, st=True).kwargs == {
        "truncation": False,
        "__prompt_name__": "query",
        "__dimensions__": 8,
    }
    plain = _call("feature-extraction", {**body, "normalize": True}, st=False)
    assert (plain.pooling, plain.normalize, plain.kwargs) == (False, False, {"truncation": False})


# --- generation parameters ---------------------------------------------------------------------

TGI_EXTRAS = {
    "details": True,
    "decoder_input_details": True,
    "best_of": 2,
    "watermark": True,
    "truncate": 10,
    "top_n_tokens": 3,
    "grammar": {"type": "json", "value": {}},
    "frequency_penalty": 0.1,
    "adapter_id": "x",
    "made_up_by_a_future_tgi": [1],
}


def test_tgi_parameters_are_accepted_and_never_passed_on() -> None:
    body = {"inputs": "p", "parameters": {**TGI_EXTRAS, "max_new_tokens": 3}}
    assert _call("text-generation", body).kwargs == {
        "max_new_tokens": 3,
        "__return_full_text__": True,
        "__details__": True,
        "do_sample": False,
    }


def test_every_generation_parameter_is_mapped() -> None:
    same = {
        "max_new_tokens": 7, "temperature": 0.7, "top_k": 40, "top_p": 0.9, "max_time": 5.0,
        "repetition_penalty": 1.2, "do_sample": True, "num_return_sequences": 2,
        "typical_p": 0.8,
    }  # fmt: skip
    body = _body("p", **same, seed=42, stop=["\n"], return_full_text=False)
    assert _call("text-generation", body).kwargs == {
        **same,
        "__return_full_text__": False,
        "__details__": False,
        "__seed__": 42,
        "stop_strings": ["\n"],
    }


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"temperature": 0.5}, {"temperature": 0.5, "do_sample": True}),
        ({"top_p": 0.9}, {"top_p": 0.9, "do_sample": True}),
        ({"temperature": 0}, {"do_sample": False}),
        ({"temperature": 0.0, "do_sample": True, "top_k": 5}, {"do_sample": False}),
        ({"temperature": 0.5, "do_sample": False}, {"do_sample": False}),
        ({"seed": 3}, {"do_sample": False}),
        ({"seed": 3, "temperature": 1.0}, {"temperature": 1.0, "do_sample": True, "__seed__": 3}),
        ({"stop": "END"}, {"do_sample": False, "stop_strings": ["END"]}),
        ({"typical_p": 0.5}, {"typical_p": 0.5, "do_sample": True}),
        ({"stop": []}, {"do_sample": False}),
    ],
)
def test_sampling_follows_tgi(params: dict[str, Any], expected: dict[str, Any]) -> None:
    kwargs = _call("text-generation", {"inputs": "p", "parameters": params}).kwargs
    assert kwargs == {**ECHO, **expected}


def test_seq2seq_merges_flat_and_generate_parameters() -> None:
    params = {
        "max_length": 50, "num_beams": 4, "temperature": 0.3,
        "generate_parameters": {"num_beams": 2, "early_stopping": True, "penalty_alpha": 0.6},
        "clean_up_tokenization_spaces": True, "truncation": "ONLY_FIRST", "src_lang": "en",
    }  # fmt: skip
    assert _call("text2text-generation", {"inputs": "x", "parameters": params}).kwargs == {
        "max_length": 50, "num_beams": 2, "temperature": 0.3, "do_sample": True,
        "early_stopping": True, "clean_up_tokenization_spaces": True, "truncation": "only_first",
    }  # fmt: skip


def test_beam_search_may_return_several_sequences() -> None:
    params = {"num_beams": 3, "num_return_sequences": 3}
    assert _call("summarization", {"inputs": "x", "parameters": params}).kwargs == {
        **params,
        "do_sample": False,
    }


def test_other_tasks_ignore_unknown_parameters() -> None:
    params = {"top_k": 1, "wait_for_model": True, "use_gpu": False}
    body = {"inputs": "x", "parameters": params, "options": {"use_cache": False}}
    assert _call("text-classification", body).kwargs == {"top_k": 1}


def test_classification_defaults() -> None:
    assert _call("text-classification", {"inputs": "x"}).kwargs == {"top_k": None}
    assert _call("token-classification", {"inputs": "x"}).kwargs == {
        "aggregation_strategy": "simple"
    }
    params = {"top_k": 2, "function_to_apply": "Sigmoid"}
    assert _call("image-classification", {"inputs": PNG, "parameters": params}).kwargs == {
        "top_k": 2,
        "function_to_apply": "sigmoid",
    }


@pytest.mark.parametrize(
    ("labels", "expected"),
    [("sport, politics ,war,", ["sport", "politics", "war"]), (["a b"], ["a b"])],
)
def test_zero_shot_labels(labels: object, expected: list[str]) -> None:
    body = {
        "inputs": "x",
        "parameters": {"candidate_labels": labels, "hypothesis_template": "It is {}."},
    }
    assert _call("zero-shot-classification", body).kwargs == {
        "candidate_labels": expected,
        "hypothesis_template": "It is {}.",
    }


def test_image_inputs_may_be_a_data_url_with_line_breaks() -> None:
    encoded = base64.encodebytes(PNG).decode()  # wrapped at 76 characters
    assert _call("image-classification", {"inputs": f"data:image/png;base64,{encoded}"}).args == (
        PNG,
    )


def test_list_inputs() -> None:
    call = _call("text-classification", {"inputs": ["a", "b"]})
    assert (call.args, call.batchable) == ((["a", "b"],), False)
    assert _call("text-generation", {"inputs": ["a", "b"]}).args == (["a", "b"],)


# --- prepare_call: malformed bodies ------------------------------------------------------------


QA_NEEDS = 'question-answering needs inputs {"question": str, "context": str}'
SIMILARITY_NEEDS = "sentence-similarity needs inputs"
MALFORMED = [
    ("text-generation", {"parameters": {}}, "needs `inputs`"),
    ("text-generation", {"inputs": "p", "parameters": [1]}, "`parameters` must be a JSON object"),
    ("text-generation", {"inputs": 3}, "text-generation needs `inputs` as a string"),
    ("text-generation", {"inputs": []}, "non-empty list of strings"),
    ("text-generation", _body("p", max_new_tokens=0), "`max_new_tokens` must be an integer >= 1"),
    ("text-generation", _body("p", max_new_tokens="5"), "`max_new_tokens`"),
    ("text-generation", _body("p", max_new_tokens=True), "`max_new_tokens`"),
    ("text-generation", _body("p", temperature=-1), "`temperature` must be a number >= 0"),
    ("text-generation", _body("p", temperature=math.nan), "`temperature`"),
    ("text-generation", _body("p", top_p=1.5), "`top_p` must be a number between 0 and 1"),
    ("text-generation", _body("p", do_sample="yes"), "`do_sample` must be true or false"),
    ("text-generation", _body("p", stop=[1]), "`stop` must be a string or a list"),
    ("text-generation", _body("p", num_return_sequences=2), "needs sampling"),
    ("summarization", {"inputs": {"text": "x"}}, "summarization needs `inputs` as a string"),
    ("summarization", _body("x", generate_parameters="fast"), "`generate_parameters` must be"),
    ("summarization", _body("x", truncation="all"), "`truncation` must be one of"),
    ("translation", _body("x", tgt_lang=""), "`tgt_lang` must be a non-empty string"),
    ("fill-mask", {"inputs": None}, "fill-mask needs `inputs`"),
    ("fill-mask", _body("x", targets=5), "`targets` must be a string or a list"),
    ("text-classification", {"inputs": ["a", 2]}, "text-classification needs `inputs`"),
    ("text-classification", _body("x", function_to_apply="tanh"), "sigmoid, softmax, none"),
    ("token-classification", _body("x", aggregation_strategy="best"), "must be one of none,"),
    ("token-classification", _body("x", aggregation_strategy="none", stride=4), "`stride` needs"),
    ("question-answering", {"inputs": "Who?"}, QA_NEEDS),
    ("question-answering", {"inputs": {"question": "Who?"}}, QA_NEEDS),
    ("question-answering", _body(QA, top_k=0), "`top_k`"),
    ("zero-shot-classification", {"inputs": "x"}, "needs `candidate_labels`"),
    ("zero-shot-classification", _body("x", candidate_labels=" , "), "needs `candidate_labels`"),
    ("zero-shot-classification", _body("x", candidate_labels=["a"], hypothesis_template="a"), "{}"),
    ("feature-extraction", {"inputs": SIMILARITY}, "feature-extraction needs `inputs`"),
    ("feature-extraction", {"inputs": "a", "normalize": "yes"}, "`normalize` must be true or"),
    ("sentence-similarity", {"inputs": "a"}, SIMILARITY_NEEDS),
    (
        "sentence-similarity",
        {"inputs": {"source_sentence": "a", "sentences": []}},
        SIMILARITY_NEEDS,
    ),
    (
        "sentence-similarity",
        {"inputs": {"source_sentence": "a", "sentences": "b"}},
        SIMILARITY_NEEDS,
    ),
    ("image-classification", {"inputs": b""}, "image-classification needs the image itself"),
    ("image-classification", {"inputs": "https://a.example/cat.png"}, "URLs and paths are not"),
    ("image-classification", {"inputs": "not base64!"}, "image-classification needs the image"),
    ("image-classification", _body(PNG, top_k=-1), "`top_k`"),
    ("text-to-image", {"inputs": "x"}, "`text-to-image` is not supported"),
]


@pytest.mark.parametrize(("task", "body", "words"), MALFORMED)
def test_malformed_bodies(task: str, body: dict[str, Any], words: str) -> None:
    with pytest.raises(TaskError) as caught:
        _call(task, body)
    assert words in str(caught.value)


# --- shape_output ------------------------------------------------------------------------------


def _shape(task: str, body: dict[str, Any], raw: object, *, st: bool = False) -> Any:
    result = shape_output(_call(task, body, st=st), raw)
    json.dumps(result, allow_nan=False)  # what the route will do with it
    return result


def test_text_classification_is_nested_and_sorted() -> None:
    raw = [  # pipe("I like you", top_k=None)
        {"label": "pos", "score": 0.33471769094467163},
        {"label": "neu", "score": 0.33171024918556213},
        {"label": "neg", "score": 0.3335720896720886},
    ]
    assert _shape("text-classification", {"inputs": "I like you"}, raw) == [
        [
            {"label": "pos", "score": 0.33471769094467163},
            {"label": "neg", "score": 0.3335720896720886},
            {"label": "neu", "score": 0.33171024918556213},
        ]
    ]
    pair = [raw[:1], raw[1:2]]  # pipe(["a", "b"], top_k=1)
    assert _shape("text-classification", {"inputs": ["a", "b"]}, pair) == [raw[:1], raw[1:2]]
    legacy = {"label": "pos", "score": 0.9}  # the top-1 dict of a legacy-mode call
    assert _shape("text-classification", {"inputs": "x"}, legacy) == [[legacy]]


def test_generation_details_follow_tgi() -> None:
    body = {"inputs": "p", "parameters": {"details": True, "return_full_text": False}}
    answer = _shape("text-generation", body, [Generated(" q", 1, 1, "length")])
    assert answer == [
        {
            "generated_text": " q",
            "details": {
                "finish_reason": "length", "generated_tokens": 1, "seed": None, "prefill": [],
                "tokens": [],
            },
        }
    ]  # fmt: skip


def test_generated_texts_are_lists() -> None:
    raw = [Generated(" a time", 2, 2, "length")]
    assert _shape("text-generation", {"inputs": "Once upon"}, raw) == [
        {"generated_text": "Once upon a time"}
    ]
    body = {"inputs": ["a", "b"], "parameters": {"return_full_text": False}}
    two = [[Generated("1", 1, 1, "stop")], [Generated("2", 1, 1, "stop")]]
    assert _shape("text-generation", body, two) == [
        [{"generated_text": "1"}],
        [{"generated_text": "2"}],
    ]
    assert _shape("text2text-generation", {"inputs": "x"}, "y") == [{"generated_text": "y"}]


@pytest.mark.parametrize(
    ("task", "raw", "expected"),
    [
        ("summarization", [{"summary_text": "Short."}], [{"summary_text": "Short."}]),
        ("summarization", [{"generated_text": "Short."}], [{"summary_text": "Short."}]),
        ("summarization", {"summary_text": "Short."}, [{"summary_text": "Short."}]),
        ("translation", [{"translation_text": "Bonjour"}], [{"translation_text": "Bonjour"}]),
        ("translation", ["Bonjour"], [{"translation_text": "Bonjour"}]),
    ],
)
def test_summaries_and_translations_are_lists(task: str, raw: object, expected: object) -> None:
    assert _shape(task, {"inputs": "x"}, raw) == expected


def test_unexpected_raw_output_is_a_server_error() -> None:
    with pytest.raises(TypeError, match="unexpected summarization output"):
        _shape("summarization", {"inputs": "x"}, [{"score": 1.0}])


def test_fill_mask() -> None:
    raw = [  # pipe("the knight [MASK] to", top_k=2)
        {"score": 0.0144727434, "token": 55, "token_str": "rode", "sequence": "the knight rode to"},
        {"score": 0.0140250688, "token": 75, "token_str": "ran", "sequence": "the knight ran to"},
    ]
    assert _shape("fill-mask", {"inputs": "the knight [MASK] to"}, raw) == raw


def test_token_classification_scores_become_floats() -> None:
    np = pytest.importorskip("numpy")
    raw = [  # pipe("Sarah lives in Paris", aggregation_strategy="simple")
        {"entity_group": "PER", "score": np.float32(0.99), "word": "sarah", "start": 0, "end": 5},
        {"entity_group": "LOC", "score": np.float32(0.5), "word": "paris", "start": 15, "end": 20},
    ]
    shaped = _shape("token-classification", {"inputs": "Sarah lives in Paris"}, raw)
    assert shaped[1] == {
        "entity_group": "LOC",
        "score": 0.5,
        "word": "paris",
        "start": 15,
        "end": 20,
    }
    assert type(shaped[0]["score"]) is float
    none = [
        {
            "entity": "B-LOC",
            "score": np.float32(0.25),
            "index": 4,
            "word": "paris",
            "start": 15,
            "end": 20,
        }
    ]
    params = {"aggregation_strategy": "none"}
    assert _shape("token-classification", {"inputs": "x", "parameters": params}, none) == [
        {"entity": "B-LOC", "score": 0.25, "index": 4, "word": "paris", "start": 15, "end": 20}
    ]


def test_question_answering_is_a_dict_unless_top_k_asks_for_more() -> None:
    answer = {"score": 0.98, "start": 11, "end": 16, "answer": "Clara"}
    qa = {"question": "Who?", "context": "My name is Clara."}
    assert _shape("question-answering", {"inputs": qa}, answer) == answer
    assert _shape("question-answering", {"inputs": qa}, [answer]) == answer
    top2 = {"inputs": qa, "parameters": {"top_k": 2}}
    assert _shape("question-answering", top2, [answer, answer]) == [answer, answer]
    assert _shape("question-answering", top2, answer) == [answer]


def test_zero_shot_gets_todays_shape() -> None:
    raw = {
        "sequence": "I have a problem with my iphone",
        "labels": ["urgent", "phone"],
        "scores": [0.5036, 0.4964],
    }
    body = {"inputs": raw["sequence"], "parameters": {"candidate_labels": ["phone", "urgent"]}}
    expected = [{"label": "urgent", "score": 0.5036}, {"label": "phone", "score": 0.4964}]
    assert _shape("zero-shot-classification", body, raw) == expected
    both = {**body, "inputs": ["a", "b"]}
    assert _shape("zero-shot-classification", both, [raw, raw]) == [expected, expected]


def test_image_classification() -> None:
    raw = [{"label": "tabby", "score": 0.7}, {"label": "lynx", "score": 0.2}]
    assert _shape("image-classification", {"inputs": PNG}, raw) == raw


def test_pooled_embeddings_follow_the_input() -> None:
    np = pytest.importorskip("numpy")
    assert _shape("feature-extraction", {"inputs": "a"}, [0.5, -0.5], st=True) == [0.5, -0.5]
    assert _shape("feature-extraction", {"inputs": "a"}, [[0.5, -0.5]], st=True) == [0.5, -0.5]
    rows = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    assert _shape("feature-extraction", {"inputs": ["a", "b"]}, rows, st=True) == [[1, 0], [0, 1]]


def test_token_level_embeddings_pass_through() -> None:
    raw = [[[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]]  # pipe("hi"): 1 x tokens x hidden
    assert _shape("feature-extraction", {"inputs": "hi"}, raw) == raw


def test_dimensions_truncate_then_renormalise() -> None:
    body = {"inputs": "a", "dimensions": 2, "normalize": True}
    assert _shape("feature-extraction", body, [3.0, 4.0, 12.0], st=True) == pytest.approx(
        [0.6, 0.8]
    )
    raw = [1.0, 2.0, 3.0]
    assert _shape("feature-extraction", {**body, "normalize": False}, raw, st=True) == [1.0, 2.0]


def test_sentence_similarity_is_cosine() -> None:
    body = {
        "inputs": {
            "source_sentence": "s",
            "sentences": ["same", "orthogonal", "opposite", "diagonal", "zero"],
        }
    }
    rows = [[2.0, 0.0], [1.0, 0.0], [0.0, 3.0], [-1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
    assert _shape("sentence-similarity", body, rows) == pytest.approx(
        [1.0, 0.0, -1.0, math.sqrt(0.5), 0.0]
    )
    with pytest.raises(TypeError):
        _shape("sentence-similarity", body, rows[:2])


def test_sentence_similarity_on_real_numbers() -> None:
    source, other = [0.1, -0.4, 0.7, 0.2], [0.3, -0.1, 0.5, -0.6]
    body = {"inputs": {"source_sentence": "s", "sentences": ["o"]}}
    # dot = 0.03 + 0.04 + 0.35 - 0.12 = 0.30; |s| = sqrt(0.70); |o| = sqrt(0.71)
    expected = 0.30 / math.sqrt(0.70 * 0.71)
    assert _shape("sentence-similarity", body, [source, other]) == [pytest.approx(expected)]


# --- cache_key ---------------------------------------------------------------------------------


def test_cache_key_ignores_key_order() -> None:
    one = {"inputs": "x", "parameters": {"top_k": 2, "function_to_apply": "softmax"}}
    two = {"parameters": {"function_to_apply": "softmax", "top_k": 2}, "inputs": "x"}
    key = cache_key(SHA, _call("text-classification", one))
    assert key is not None and len(key) == 64
    assert key == cache_key(SHA, _call("text-classification", two))


def test_cache_key_tells_calls_apart() -> None:
    texts = {"inputs": ["a", "b"]}
    similarity = {"inputs": {"source_sentence": "a", "sentences": ["b"]}}
    keys = {
        cache_key(SHA, _call("text-classification", {"inputs": "x"})),
        cache_key("b" * 40, _call("text-classification", {"inputs": "x"})),
        cache_key(SHA, _call("text-classification", {"inputs": "y"})),
        cache_key(SHA, _call("feature-extraction", texts, st=True)),
        cache_key(SHA, _call("sentence-similarity", similarity, st=True)),
        cache_key(SHA, _call("image-classification", {"inputs": PNG})),
        cache_key(SHA, _call("image-classification", {"inputs": PNG + b"!"})),
    }
    assert len(keys) == 7 and None not in keys


@pytest.mark.parametrize(
    "params", [{"do_sample": True}, {"temperature": 0.8}, {"top_k": 5}, {"max_time": 2.0}]
)
def test_cache_key_skips_calls_that_may_differ(params: dict[str, Any]) -> None:
    assert cache_key(SHA, _call("text-generation", {"inputs": "p", "parameters": params})) is None


def test_greedy_generation_is_cacheable() -> None:
    body = {"inputs": "p", "parameters": {"temperature": 0, "seed": 1}}
    assert cache_key(SHA, _call("text-generation", body)) is not None


# --- the hub process stays light ---------------------------------------------------------------


def test_importing_tasks_loads_neither_torch_nor_transformers() -> None:
    code = (
        "import sys, hugbox.inference.calls; "
        "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

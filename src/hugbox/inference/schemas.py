"""The Inference API's JSON shapes, named after huggingface_hub's task output types
(`inference/_generated/types`) and, for the OpenAI-style routes, the types its clients parse.

A model's route answers in its pipeline's shape, so `TaskOutput` is the union of every shape
`shapes.py` makes; a list of inputs gets one answer per input, hence the nested forms.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from hugbox.wire import WireModel, returns

T = TypeVar("T")
OneOrMore = list[T] | list[list[T]]  # one input's answers, or one list of them per input


def returns_or_streams(model: Any) -> dict[str, Any]:
    """`returns(model)`, for a route that sends server-sent events instead when asked to."""
    declared = returns(model)
    events = {"text/event-stream": {"schema": {"type": "string"}}}
    declared["responses"][200]["content"] = events
    return declared


# Text generation (TGI's shapes)


class TextGenerationOutputPrefillToken(WireModel):
    id: int
    logprob: float
    text: str


class TextGenerationOutputToken(WireModel):
    id: int
    logprob: float
    special: bool
    text: str


class TextGenerationOutputDetails(WireModel):
    """TGI's details of a sequence; no per-token log-probabilities are kept, so the token
    lists are empty."""

    finish_reason: Literal["length", "eos_token", "stop_sequence"]
    generated_tokens: int
    seed: int | None
    prefill: list[TextGenerationOutputPrefillToken]
    tokens: list[TextGenerationOutputToken]


class TextGenerationOutput(WireModel):
    generated_text: str
    details: TextGenerationOutputDetails | None = None


class Text2TextGenerationOutput(WireModel):
    generated_text: str


class SummarizationOutput(WireModel):
    summary_text: str


class TranslationOutput(WireModel):
    translation_text: str


# Encoder tasks


class FillMaskOutputElement(WireModel):
    score: float
    token: int
    token_str: str
    sequence: str


class TextClassificationOutputElement(WireModel):
    label: str
    score: float


class ZeroShotClassificationOutputElement(TextClassificationOutputElement):
    pass


class ImageClassificationOutputElement(TextClassificationOutputElement):
    pass


class TokenClassificationOutputElement(WireModel):
    """An entity (`entity_group`, with an aggregation strategy) or a token (`entity` and its
    `index`, without one). Offsets are None for tokenizers that cannot map them."""

    entity_group: str | None = None
    entity: str | None = None
    index: int | None = None
    score: float
    word: str
    start: int | None
    end: int | None


class QuestionAnsweringOutputElement(WireModel):
    answer: str
    score: float
    start: int
    end: int


# Pooled: a vector per text; token level: a vector per token (per text for a list input).
FeatureExtractionOutput = (
    list[float] | list[list[float]] | list[list[list[float]]] | list[list[list[list[float]]]]
)
SentenceSimilarityOutput = list[float]

TaskOutput = (
    OneOrMore[TextGenerationOutput]
    | OneOrMore[Text2TextGenerationOutput]
    | OneOrMore[SummarizationOutput]
    | OneOrMore[TranslationOutput]
    | OneOrMore[FillMaskOutputElement]
    | OneOrMore[TextClassificationOutputElement]
    | OneOrMore[ZeroShotClassificationOutputElement]
    | list[ImageClassificationOutputElement]
    | OneOrMore[TokenClassificationOutputElement]
    | QuestionAnsweringOutputElement
    | list[QuestionAnsweringOutputElement]
    | FeatureExtractionOutput
)


# The model and its service


class EndpointInfo(WireModel):
    """TGI's `/info`, as `InferenceClient.get_endpoint_info` returns it."""

    model_id: str
    model_sha: str
    model_pipeline_tag: str | None
    model_dtype: str
    model_device_type: str
    max_concurrent_requests: int
    max_batch_size: int
    max_best_of: int
    max_input_tokens: int | None
    max_total_tokens: int | None
    router: str
    version: str


class ModelStatus(WireModel):
    """`InferenceClient.get_model_status`."""

    loaded: bool
    state: Literal["Loaded", "Loadable", "TooBig"]
    compute_type: str
    framework: str


# OpenAI-style routes


class ChatCompletionOutputMessage(WireModel):
    role: str
    content: str | None = None


class ChatCompletionOutputComplete(WireModel):
    index: int
    message: ChatCompletionOutputMessage
    logprobs: None = None
    finish_reason: str


class ChatCompletionOutputUsage(WireModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatCompletionOutput(WireModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[ChatCompletionOutputComplete]
    usage: ChatCompletionOutputUsage


class CompletionOutputChoice(WireModel):
    text: str
    index: int
    logprobs: None = None
    finish_reason: str | None


class CompletionOutput(WireModel):
    """OpenAI's legacy `Completion`."""

    id: str
    object: Literal["text_completion"]
    created: int
    model: str
    system_fingerprint: str
    choices: list[CompletionOutputChoice]
    usage: ChatCompletionOutputUsage


class Embedding(WireModel):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str  # floats, or base64 of little-endian float32


class EmbeddingUsage(WireModel):
    prompt_tokens: int
    total_tokens: int


class CreateEmbeddingResponse(WireModel):
    object: Literal["list"]
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage


class ModelCard(WireModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str
    pipeline_tag: str | None


class ModelList(WireModel):
    object: Literal["list"]
    data: list[ModelCard]

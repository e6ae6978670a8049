"""Card front-matter parsing and what HF derives from it."""

import pytest

from hugbox.repos import cards


def test_front_matter_is_parsed_to_json_values() -> None:
    text = "---\nlicense: mit\ntags: [a, b]\ndate: 2024-01-02\n---\n# Title\n"
    assert cards.parse_front_matter(text) == {
        "license": "mit",
        "tags": ["a", "b"],
        "date": "2024-01-02",
    }


def test_no_front_matter_is_none_and_empty_block_is_empty() -> None:
    assert cards.parse_front_matter("# just a title\n") is None
    assert cards.parse_front_matter("---\n---\ntext") == {}


@pytest.mark.parametrize("text", ["---\nkey: [unclosed\n---\n", "---\n- a list\n---\n"])
def test_invalid_metadata_raises(text: str) -> None:
    with pytest.raises(cards.CardError):
        cards.parse_front_matter(text)


def test_blank_lines_may_precede_the_front_matter() -> None:
    # huggingface_hub's own parser skips them; text before the block still means no metadata.
    assert cards.parse_front_matter("\n \n---\nlicense: mit\n---\n") == {"license": "mit"}
    assert cards.parse_front_matter("title\n---\nlicense: mit\n---\n") is None


def test_datasets_may_be_one_string() -> None:
    assert cards.validate_metadata({"datasets": "glue"}) == []
    assert cards.validate_metadata({"datasets": 3}) == ['"datasets" must be a string or an array']


def test_model_index_must_be_a_list() -> None:
    assert cards.validate_metadata({"model-index": "foo"}) == ['"model-index" must be an array']
    assert cards.validate_metadata({"model-index": [], "license": "mit"}) == []


def test_tags_include_library_task_license_language_and_datasets() -> None:
    card = {
        "tags": ["x"],
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "license": "mit",
        "language": ["en", "fr"],
        "datasets": "wikimedia/wikipedia",
    }
    assert cards.tags_from_card(card) == [
        "x", "transformers", "text-generation", "license:mit", "en", "fr",
        "dataset:wikimedia/wikipedia",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("architecture", "task"),
    [("GPT2LMHeadModel", "text-generation"), ("LlamaForCausalLM", "text-generation"),
     ("BertForSequenceClassification", "text-classification"), ("BertForMaskedLM", "fill-mask"),
     ("ViTForImageClassification", "image-classification"), ("Whatever", None)],
)  # fmt: skip
def test_pipeline_tag_from_architecture(architecture: str, task: str | None) -> None:
    assert cards.pipeline_tag_from_config({"architectures": [architecture]}) == task


def test_sentence_encoder_is_feature_extraction() -> None:
    config = {"architectures": ["BertModel"], "model_type": "bert"}
    assert cards.pipeline_tag_from_config(config) == "feature-extraction"

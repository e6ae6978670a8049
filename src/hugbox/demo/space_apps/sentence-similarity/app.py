"""Sentence similarity with all-MiniLM-L6-v2, computed by the hub's Inference API."""

import os

import gradio as gr
import httpx

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
# Inside a space, HF_ENDPOINT leads back to the hub that runs it.
URL = f"{os.environ.get('HF_ENDPOINT', 'http://127.0.0.1:8000')}/models/{MODEL}"
EXAMPLE = "A man is playing a guitar\nSomeone eats pasta\nA person plays music on stage"


def similarity(source: str, others: str) -> dict[str, float]:
    sentences = [line.strip() for line in others.splitlines() if line.strip()]
    if not source.strip() or not sentences:
        return {}
    body = {"inputs": {"source_sentence": source, "sentences": sentences}}
    response = httpx.post(URL, json=body, timeout=120)
    response.raise_for_status()
    return {s: max(0.0, float(score)) for s, score in zip(sentences, response.json(), strict=True)}


demo = gr.Interface(
    similarity,
    inputs=[
        gr.Textbox(label="Sentence", value="A musician performs a song"),
        gr.Textbox(label="Compare with (one sentence per line)", lines=4, value=EXAMPLE),
    ],
    outputs=gr.Label(label="Cosine similarity"),
    title="Sentence similarity",
    description=f"Embeddings of [{MODEL}]({os.environ.get('HF_ENDPOINT', '')}/{MODEL}), "
    "served by this hub's Inference API.",
    api_name="similarity",
    flagging_mode="never",
)

if __name__ == "__main__":
    demo.launch()

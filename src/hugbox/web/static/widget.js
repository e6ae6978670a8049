// Inference widget: calls the Inference API with the session (cookie + CSRF header).
"use strict";
(() => {
  const box = document.getElementById("widget");
  if (!box) return;
  const model = box.dataset.model;
  const task = box.dataset.task;
  const form = box.querySelector("form");
  const out = box.querySelector(".out");
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };

  const call = async (path, body, extra = {}) => {
    const response = await fetch(path, {
      method: "POST", credentials: "same-origin", headers: { ...headers, ...extra }, body,
    });
    if (!response.ok) {
      throw new Error(response.headers.get("X-Error-Message") || `HTTP ${response.status}`);
    }
    return response;
  };
  const text = (value) => { out.textContent = value; };

  const bars = (items) => {
    const ul = document.createElement("ul");
    ul.className = "scores";
    items.slice(0, 5).forEach(({ label, score }) => {
      const li = document.createElement("li");
      const name = document.createElement("div");
      name.textContent = `${label} — ${score.toFixed(3)}`;
      const bar = document.createElement("div");
      bar.className = "bar";
      bar.style.width = `${Math.max(1, Math.round(score * 100))}%`;
      li.append(name, bar);
      ul.append(li);
    });
    out.replaceChildren(ul);
  };

  const generate = async (inputs) => {
    const body = JSON.stringify({ inputs, parameters: { max_new_tokens: 40 } });
    const response = await call(`/models/${model}/generate_stream`, body);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    text(inputs);
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const events = buffer.split("\n\n");
      buffer = events.pop();
      events.forEach((event) => {
        const line = event.split("\n").find((l) => l.startsWith("data:"));
        if (!line) return;
        const data = JSON.parse(line.slice(5));
        if (data.error) throw new Error(data.error);
        out.textContent += data.token.text;
      });
    }
  };

  const similarity = async (source, sentences) => {
    const body = JSON.stringify({ inputs: { source_sentence: source, sentences } });
    const scores = await (await call(`/models/${model}`, body)).json();
    bars(sentences.map((label, i) => ({ label, score: scores[i] })));
  };

  const run = async () => {
    const data = new FormData(form);
    if (task === "text-generation") return generate(String(data.get("inputs")));
    if (task === "sentence-similarity" || task === "feature-extraction") {
      const lines = String(data.get("sentences")).split("\n").map((s) => s.trim()).filter(Boolean);
      if (task === "sentence-similarity") return similarity(String(data.get("source")), lines);
      const body = JSON.stringify({ inputs: String(data.get("source")) });
      const vector = await (await call(`/models/${model}`, body)).json();
      return text(`Embedding: ${JSON.stringify(vector).slice(0, 400)}…`);
    }
    if (task === "image-classification") {
      const file = data.get("image");
      const response = await call(`/models/${model}`, file, { "Content-Type": file.type || "application/octet-stream" });
      return bars(await response.json());
    }
    const body = task === "question-answering"
      ? { inputs: { question: data.get("question"), context: data.get("context") } }
      : { inputs: data.get("inputs") };
    const answer = await (await call(`/models/${model}`, JSON.stringify(body))).json();
    const flat = Array.isArray(answer) && Array.isArray(answer[0]) ? answer[0] : answer;
    if (task === "fill-mask") return bars(flat.map((c) => ({ label: c.token_str, score: c.score })));
    if (Array.isArray(flat) && flat.length && flat[0].score !== undefined && flat[0].label !== undefined) {
      return bars(flat);
    }
    const first = Array.isArray(flat) ? flat[0] : flat;
    return text(first.generated_text ?? first.summary_text ?? first.translation_text ?? first.answer ?? JSON.stringify(answer, null, 2));
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    text("Running…");
    try {
      await run();
    } catch (error) {
      text(`Error: ${error.message}`);
    } finally {
      button.disabled = false;
    }
  });
})();

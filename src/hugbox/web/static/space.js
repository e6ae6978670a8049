// A space's page: polls the runtime API for the app's stage, streams its build and run logs, and
// sends its owners' restart and pause. Calls carry the session cookie plus the CSRF header: the
// cookie alone is no credential for the API (and EventSource cannot send a header, so the logs
// are read with fetch).
"use strict";
(() => {
  const box = document.getElementById("space");
  if (!box) return;
  const api = `/api/spaces/${box.dataset.space}`;
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const headers = { "X-CSRF-Token": csrf };
  const $ = (selector) => box.querySelector(selector);
  const badge = $(".stage");
  const note = $(".space-note");
  const frame = $(".space-app");
  const failure = $(".space-error");
  const logs = $(".space-logs");
  const log = $(".space-log");
  const tabs = [...box.querySelectorAll("[role=tab]")];
  const POLL_MS = 2000;
  let stage = box.dataset.stage;
  let stream = null; // the AbortController of the log being read, while it is open

  // The same rule as hugbox.spaces.pages.stage_tone.
  const tone = (value) => {
    if (value.endsWith("_ERROR")) return "error";
    if (value === "RUNNING") return "ok";
    return /BUILDING|STARTING/.test(value) ? "busy" : "idle";
  };
  const label = (value) => {
    const words = value.replaceAll("_", " ").toLowerCase();
    return words.charAt(0).toUpperCase() + words.slice(1);
  };

  const call = async (path, method = "GET") => {
    const response = await fetch(`${api}${path}`, { method, headers, credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(response.headers.get("X-Error-Message") || `HTTP ${response.status}`);
    }
    return response;
  };

  const show = (runtime) => {
    const previous = stage;
    stage = runtime.stage;
    if (stage === previous) return;
    badge.className = `stage ${tone(stage)}`;
    badge.textContent = label(stage);
    failure.hidden = tone(stage) !== "error";
    failure.querySelector(".space-error-text").textContent =
      runtime.errorMessage || "See the logs below.";
    if (tone(stage) === "error") logs.open = true;
    if (stage === "RUNNING") frame.src = box.dataset.host; // the app is up: show it, not the wait
    if (logs.open && !stream) read(selected());
  };

  const poll = async () => {
    if (document.visibilityState === "visible") {
      try {
        show(await (await call("/runtime")).json());
      } catch {
        // A lost request: the next poll tries again.
      }
    }
    setTimeout(poll, POLL_MS);
  };

  const append = (event) => {
    const line = event.split("\n").find((l) => l.startsWith("data:"));
    const payload = line ? line.slice(5).trim() : "";
    if (!payload) return; // a keep-alive
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    log.append(`${JSON.parse(payload).data}\n`);
    if (atBottom) log.scrollTop = log.scrollHeight;
  };

  // The log replays from its start, then follows while the app can still write to it.
  const read = async (kind) => {
    if (stream) stream.abort();
    const controller = new AbortController();
    stream = controller;
    log.textContent = "";
    try {
      const response = await fetch(`${api}/logs/${kind}`, {
        headers, credentials: "same-origin", signal: controller.signal,
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const events = (buffer + value).split("\n\n");
        buffer = events.pop();
        events.forEach(append);
      }
    } catch (error) {
      if (error.name !== "AbortError") log.append(`(The log could not be read: ${error.message})\n`);
    } finally {
      if (stream === controller) stream = null;
    }
  };

  const selected = () => tabs.find((t) => t.getAttribute("aria-selected") === "true").dataset.kind;
  const select = (tab) => {
    tabs.forEach((t) => {
      t.setAttribute("aria-selected", String(t === tab));
      t.tabIndex = t === tab ? 0 : -1;
    });
    log.setAttribute("aria-labelledby", tab.id);
    read(tab.dataset.kind);
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      const next = tabs[(index + step + tabs.length) % tabs.length];
      next.focus();
      select(next);
    });
  });
  logs.addEventListener("toggle", () => {
    if (logs.open && !stream) read(selected());
    if (!logs.open && stream) stream.abort();
  });
  if (logs.open) read(selected());

  const ACTIONS = {
    restart: ["/restart", "Restarting…"],
    factory: ["/restart?factory=true", "Rebuilding from scratch…"],
    pause: ["/pause", "Pausing…"],
  };
  box.querySelectorAll("[data-action]").forEach((button) => {
    button.addEventListener("click", async () => {
      const [path, doing] = ACTIONS[button.dataset.action];
      button.disabled = true;
      note.textContent = doing;
      try {
        show(await (await call(path, "POST")).json());
        note.textContent = "";
      } catch (error) {
        note.textContent = `Could not do it: ${error.message}`;
      } finally {
        button.disabled = false;
      }
    });
  });

  setTimeout(poll, POLL_MS);
})();

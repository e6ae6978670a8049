// Dataset viewer: pages through, searches and filters a split with the datasets-server API,
// authenticated by the session cookie plus the page's CSRF token.
"use strict";
(() => {
  const box = document.getElementById("viewer");
  if (!box) return;
  const dataset = box.dataset.dataset;
  const csrf = document.querySelector("meta[name=csrf-token]").content;
  const $ = (selector) => box.querySelector(selector);
  const status = $(".viewer-status");
  const PAGE = 100;
  const state = {
    config: "", split: "", mode: "rows", offset: 0, query: "", where: "", orderby: "", revision: "",
  };

  const say = (text, error = false) => {
    status.textContent = text;
    status.classList.toggle("error", error);
  };

  const api = async (path, params, tries = 60) => {
    const url = new URL(`/datasets-server/${path}`, location.origin);
    Object.entries({ dataset, ...params }).forEach(([k, v]) => v !== "" && url.searchParams.set(k, v));
    const response = await fetch(url, { credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
    if (response.status === 503 && tries > 0) {
      say("The dataset is being converted; this page updates when it is ready…");
      await new Promise((done) => setTimeout(done, 2000));
      return api(path, params, tries - 1);
    }
    const body = await response.json().catch(() => ({}));
    state.revision = response.headers.get("X-Revision") || state.revision;
    if (!response.ok) {
      const code = response.headers.get("X-Error-Code");
      throw new Error(`${code ? `${code}: ` : ""}${body.error || `HTTP ${response.status}`}`);
    }
    return body;
  };

  const typeName = (type) => {
    if (Array.isArray(type) || type._type === "List" || type._type === "Sequence") return "list";
    if (type._type === "Value") return type.dtype;
    if (type._type === "ClassLabel") return "class label";
    return (type._type || "object").toLowerCase();
  };

  const assetImage = async (img, src) => {
    // Private datasets: the asset needs the session header, which <img> cannot send.
    try {
      const response = await fetch(src, { credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
      if (response.ok) img.src = URL.createObjectURL(await response.blob());
    } catch (error) { img.alt = "image unavailable"; }
  };

  const cell = (value, type) => {
    const td = document.createElement("td");
    const kind = typeName(type);
    if (value === null || value === undefined) {
      td.textContent = "null";
      td.className = "muted";
    } else if (kind === "image" && value.src) {
      const img = document.createElement("img");
      img.alt = `image ${value.width || "?"}×${value.height || "?"}`;
      img.loading = "lazy";
      assetImage(img, value.src);
      td.append(img);
    } else if (kind === "audio" && Array.isArray(value) && value[0]) {
      const audio = document.createElement("audio");
      audio.controls = true;
      audio.preload = "none";
      audio.src = value[0].src;
      td.append(audio);
    } else if (typeof value === "number" || typeof value === "boolean") {
      td.textContent = String(value);
      td.className = "num";
    } else if (typeof value === "string") {
      td.textContent = value.length > 300 ? `${value.slice(0, 300)}…` : value;
      if (value.length > 300) td.title = value.slice(0, 2000);
    } else {
      const text = JSON.stringify(value);
      td.textContent = text.length > 300 ? `${text.slice(0, 300)}…` : text;
    }
    return td;
  };

  const render = (body) => {
    const table = document.createElement("table");
    const head = table.createTHead().insertRow();
    const index = document.createElement("th");
    index.textContent = "#";
    head.append(index);
    body.features.forEach(({ name, type }) => {
      const th = document.createElement("th");
      th.textContent = name;
      const small = document.createElement("span");
      small.className = "type";
      small.textContent = typeName(type);
      th.append(small);
      head.append(th);
    });
    const rows = table.createTBody();
    body.rows.forEach(({ row_idx: rowIdx, row }) => {
      const tr = rows.insertRow();
      const idx = document.createElement("td");
      idx.className = "idx num";
      idx.textContent = rowIdx;
      tr.append(idx, ...body.features.map(({ name, type }) => cell(row[name], type)));
      tr.addEventListener("click", () => detail(rowIdx, row));
    });
    $(".viewer-table").replaceChildren(table);
    const total = body.num_rows_total;
    const last = Math.min(total, state.offset + body.rows.length);
    const what = { rows: "rows", search: "matches", filter: "matching rows" }[state.mode];
    $(".viewer-page").textContent = total ? `${state.offset + 1}–${last} of ${total} ${what}` : `no ${what}`;
    $(".viewer-pager").hidden = false;
    $("[data-step='-1']").disabled = state.offset === 0;
    $("[data-step='1']").disabled = last >= total;
    const from = state.revision ? `Converted from commit ${state.revision.slice(0, 7)}.` : "";
    say(body.partial ? `${from} Partial: only the first part of this split was converted.` : from);
  };

  const detail = (rowIdx, row) => {
    const dialog = $(".viewer-row");
    dialog.querySelector("pre").textContent = `row ${rowIdx}\n${JSON.stringify(row, null, 2)}`;
    dialog.showModal();
  };

  const load = async () => {
    const where = { config: state.config, split: state.split, offset: state.offset, length: PAGE };
    try {
      if (state.mode === "search") render(await api("search", { ...where, query: state.query }));
      else if (state.mode === "filter") {
        render(await api("filter", { ...where, where: state.where, orderby: state.orderby }));
      } else render(await api("rows", where));
    } catch (error) { say(error.message, true); }
  };

  const histogram = (hist) => {
    const bars = document.createElement("div");
    bars.className = "viewer-hist";
    const top = Math.max(...hist.hist, 1);
    hist.hist.forEach((count, i) => {
      const bar = document.createElement("div");
      bar.style.height = `${Math.max(2, Math.round((count / top) * 100))}%`;
      bar.title = `${hist.bin_edges[i]}–${hist.bin_edges[i + 1]}: ${count}`;
      bars.append(bar);
    });
    return bars;
  };

  const statistics = async () => {
    const panel = $(".viewer-stats");
    try {
      const body = await api("statistics", { config: state.config, split: state.split });
      const cards = body.statistics.map(({ column_name: name, column_type: type, column_statistics: s }) => {
        const card = document.createElement("div");
        card.className = "viewer-stat";
        const title = document.createElement("h3");
        title.textContent = `${name} · ${type}`;
        const facts = document.createElement("div");
        const parts = [`nulls ${s.nan_count}`];
        if ("min" in s && s.min !== null) parts.push(`min ${s.min}`, `max ${s.max}`, `mean ${s.mean}`);
        if (s.frequencies) {
          const top = Object.entries(s.frequencies).slice(0, 5).map(([k, v]) => `${k} (${v})`);
          parts.push(`${s.n_unique} values: ${top.join(", ")}`);
        }
        facts.textContent = parts.join(" · ");
        card.append(title, facts);
        if (s.histogram) card.append(histogram(s.histogram));
        return card;
      });
      $(".viewer-stats-body").replaceChildren(...cards);
      panel.hidden = cards.length === 0;
    } catch (error) { panel.hidden = true; }
  };

  const choose = (value) => {
    [state.config, state.split] = JSON.parse(value);
    Object.assign(state, { mode: "rows", offset: 0 });
    load();
    statistics();
  };

  const start = async () => {
    try {
      const valid = await api("is-valid", {});
      if (!valid.viewer) {
        const reason = valid.error ? `${valid.error.error_code}: ${valid.error.message}` : "no viewable split";
        say(`The viewer is not available for this dataset (${reason}).`, true);
        return;
      }
      const { splits, failed } = await api("splits", {});
      const select = $("select[name=split]");
      select.replaceChildren(...splits.map(({ config, split }) => {
        const option = document.createElement("option");
        option.value = JSON.stringify([config, split]);
        option.textContent = `${config} / ${split}`;
        return option;
      }));
      if (failed.length) say(`Some subsets could not be converted: ${failed.map((f) => f.config).join(", ")}`, true);
      $(".viewer-controls").hidden = false;
      $(".viewer-search").hidden = !valid.search;
      select.addEventListener("change", () => choose(select.value));
      choose(select.value);
    } catch (error) { say(error.message, true); }
  };

  $(".viewer-search").addEventListener("submit", (event) => {
    event.preventDefault();
    const query = event.target.query.value.trim();
    Object.assign(state, query ? { mode: "search", query, offset: 0 } : { mode: "rows", offset: 0 });
    load();
  });
  $(".viewer-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    const where = event.target.where.value.trim();
    const orderby = event.target.orderby.value.trim();
    Object.assign(state, where || orderby ? { mode: "filter", where, orderby, offset: 0 } : { mode: "rows", offset: 0 });
    load();
  });
  $(".viewer-reset").addEventListener("click", () => {
    box.querySelectorAll("form").forEach((form) => form.reset());
    Object.assign(state, { mode: "rows", offset: 0 });
    load();
  });
  box.querySelectorAll("[data-step]").forEach((button) => button.addEventListener("click", () => {
    state.offset = Math.max(0, state.offset + Number(button.dataset.step) * PAGE);
    load();
  }));
  start();
})();

// Upload page: drag and drop, then one multipart POST with a progress bar.
"use strict";
(() => {
  const form = document.getElementById("upload-form");
  const zone = document.getElementById("dropzone");
  const input = form.querySelector("input[type=file]");
  const chosen = document.getElementById("chosen");
  const progress = document.getElementById("progress");
  const status = document.getElementById("upload-status");
  let dropped = null;

  const list = (files) => {
    chosen.replaceChildren(...Array.from(files).map((f) => {
      const li = document.createElement("li");
      li.textContent = `${f.name} (${f.size} bytes)`;
      return li;
    }));
  };
  input.addEventListener("change", () => { dropped = null; list(input.files); });
  ["dragenter", "dragover"].forEach((name) => zone.addEventListener(name, (event) => {
    event.preventDefault();
    zone.classList.add("over");
  }));
  ["dragleave", "drop"].forEach((name) => zone.addEventListener(name, () => zone.classList.remove("over")));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    dropped = event.dataTransfer.files;
    input.required = false;
    list(dropped);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (dropped) {
      data.delete("files");
      Array.from(dropped).forEach((f) => data.append("files", f, f.name));
    }
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    progress.hidden = false;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status < 400) {
        window.location.href = xhr.responseURL;
      } else {
        status.textContent = `Upload failed (${xhr.status}): ${xhr.getResponseHeader("X-Error-Message") || ""}`;
      }
    });
    xhr.addEventListener("error", () => { status.textContent = "Upload failed: network error"; });
    status.textContent = "Uploading…";
    xhr.send(data);
  });
})();

// Small progressive enhancements shared by pages: confirmations and the revision switcher.
"use strict";
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
});
document.querySelectorAll("form[data-switch] select").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

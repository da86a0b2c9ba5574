// The admin console's progressive enhancements. Every page works without
// them: a secret stays selectable text, and every action is a plain form.
"use strict";

// "Copy" buttons: shown only where the clipboard can be written. Without
// script (or clipboard access) the secret is selected for the person to copy.
for (const button of document.querySelectorAll("button[data-copy]")) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) continue;
  button.hidden = false;
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(source.value);
      button.textContent = "Copied";
    } catch {
      source.focus();
      source.select();
      button.textContent = "Press Ctrl+C to copy";
    }
  });
}

// A secret's field selects all of itself when focused.
for (const field of document.querySelectorAll("input[data-select-on-focus]")) {
  field.addEventListener("focus", () => field.select());
}

// Forms that change something for good ask first.
for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

// Buttons marked data-copy="ID" copy the value of the field with that id and say "Copied" in
// the status element data-copy-status names (a live region, read out by screen readers). The
// clipboard API needs a secure context (HTTPS or localhost); elsewhere the field's text is
// selected and copied the old way, or left selected for the patient to copy.
document.querySelectorAll("[data-copy]").forEach((button) => {
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copyStatus);
  if (!field || !status) return;
  const say = (text) => {
    status.textContent = text;
  };
  const copyBySelection = () => {
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch {
      return false;
    }
  };
  button.addEventListener("click", async () => {
    let copied = false;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(field.value);
        copied = true;
      } catch {
        copied = copyBySelection();
      }
    } else {
      copied = copyBySelection();
    }
    say(copied ? "Copied" : "The link is selected: copy it with your device's copy command.");
    button.focus();
  });
  button.hidden = false; // without JavaScript the button could do nothing: it stays hidden
});

// The idle warning: a session ends SESSION_COOKIE_AGE seconds after the last request. Two
// minutes before, say so and offer to stay logged in (a request to the keep-alive route).
// On a session form, keep what was typed: half a minute before the end, save it as a draft.
(function () {
  "use strict";
  var box = document.getElementById("idle-warning");
  if (!box) return;
  var idle = Number(box.dataset.idleSeconds) * 1000;
  var warn = Number(box.dataset.warnSeconds) * 1000;
  var draftButton = document.querySelector('button[name="action"][value="draft"]');
  var timers = [];

  function csrfToken() {
    var field = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return field ? field.value : "";
  }

  function schedule() {
    timers.forEach(clearTimeout);
    box.hidden = true;
    timers = [setTimeout(show, Math.max(idle - warn, 0))];
    if (draftButton) timers.push(setTimeout(saveDraft, Math.max(idle - 30000, 0)));
  }

  function show() {
    box.querySelector("[data-idle-draft]").hidden = !draftButton;
    box.hidden = false;
    box.querySelector("[data-idle-stay]").focus();
  }

  function saveDraft() {
    // The form's own "Save draft": the server keeps the draft, or shows the form with
    // what was typed and what is missing.
    draftButton.click();
  }

  box.querySelector("[data-idle-stay]").addEventListener("click", function () {
    fetch(box.dataset.keepAliveUrl, {
      method: "POST",
      headers: { "X-CSRFToken": csrfToken() },
      credentials: "same-origin",
    }).then(schedule);
  });
  // htmx requests refresh the session too.
  document.body.addEventListener("htmx:afterRequest", schedule);
  schedule();
})();

// A form marked data-submit-once sends once: a second click (a double click, an impatient
// repeat) while the first request is under way does nothing, and every submit button says
// it is busy. The clicked button's own name and value still go with the first request. Back
// to the page from the browser's history (the back-forward cache), the form works again.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-submit-once]");

  function release(form) {
    delete form.dataset.sending;
    form.removeAttribute("aria-busy");
    form.querySelectorAll("[type=submit]").forEach(function (button) {
      button.disabled = false;
    });
  }

  forms.forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.sending) {
        event.preventDefault();
        return;
      }
      form.dataset.sending = "1";
      form.setAttribute("aria-busy", "true");
      // After this event: a button disabled now would leave its value out of the request.
      setTimeout(function () {
        form.querySelectorAll("[type=submit]").forEach(function (button) {
          button.disabled = true;
        });
      }, 0);
    });
  });

  window.addEventListener("pageshow", function (event) {
    if (event.persisted) forms.forEach(release);
  });
})();

// Buttons marked data-print open the browser's print dialog (no inline handlers under our CSP).
document.querySelectorAll("[data-print]").forEach((button) => {
  button.addEventListener("click", () => window.print());
});

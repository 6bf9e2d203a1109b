// authserver console: progressive enhancement only. Every page works
// without this script; it adds copy buttons and disables an irreversible
// action's button until its confirmation is typed. No network requests.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error("no clipboard"));
  }

  function setupCopy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var status = button.nextElementSibling;
    button.hidden = false;
    button.setAttribute("aria-controls", target.id);
    button.addEventListener("click", function () {
      var text = target.value !== undefined ? target.value : target.textContent;
      copyText(text).then(function () {
        button.textContent = "Copied";
        if (status) status.textContent = "Copied to the clipboard.";
      }, function () {
        // Fallback: select it so that Ctrl+C copies it.
        target.focus();
        if (target.select) target.select();
        if (status) status.textContent = "Selected: press Ctrl+C (⌘C) to copy.";
      });
    });
  }

  function setupConfirm(input) {
    var form = input.form;
    var button = form && form.querySelector("[data-confirm-submit]");
    if (!button) return;
    var expected = input.getAttribute("data-confirm-expected");
    function update() {
      button.disabled = input.value !== expected;
    }
    input.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-copy]").forEach(setupCopy);
    document.querySelectorAll("input[data-confirm-expected]").forEach(setupConfirm);
  });
})();

// scimitar console: the copy button of the one-time token view. Served as
// a file (the Content-Security-Policy allows no inline script).
"use strict";

document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-copy]");
  if (!button) return;
  var field = document.getElementById(button.getAttribute("data-copy"));
  var status = document.getElementById("copy-status");
  if (!field) return;
  var done = function (text) {
    if (status) status.textContent = text;
  };
  var fallback = function () {
    field.focus();
    field.select();
    try {
      done(document.execCommand("copy") ? "Copied." : "Press Ctrl+C to copy.");
    } catch (e) {
      done("Press Ctrl+C to copy.");
    }
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(field.value).then(function () {
      done("Copied.");
    }, fallback);
  } else {
    fallback();
  }
});

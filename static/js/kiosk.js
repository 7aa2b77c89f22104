// Small behaviours that need script; every page still works without it.
(function () {
  "use strict";

  // Print buttons
  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-print]")) {
      window.print();
    }
  });

  // On-screen keypads type into their input: the terminal has no keyboard
  document.addEventListener("click", function (event) {
    var key = event.target.closest("[data-key]");
    if (!key) return;
    var pad = key.closest("[data-keypad-target]");
    var input = pad && document.getElementById(pad.dataset.keypadTarget);
    if (!input) return;
    var value = input.value;
    var max = parseInt(input.getAttribute("maxlength") || "99", 10);
    if (key.dataset.key === "back") value = value.slice(0, -1);
    else if (key.dataset.key === "clear") value = "";
    else if (value.length < max) value += key.dataset.key;
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
  });
  document.querySelectorAll("[data-keypad-input]").forEach(function (input) {
    input.readOnly = true; // with the keypad working, no system keyboard pops up
  });

  // The ID card reader types like a keyboard: keep its capture field focused, and send
  // the form once three full lines have arrived and the typing has stopped.
  var capture = document.querySelector("[data-mrz-capture]");
  if (capture) {
    var timer = null;
    var refocus = function () {
      var active = document.activeElement;
      if (!active || active === document.body || !active.matches("input, textarea, select")) {
        capture.focus({ preventScroll: true });
      }
    };
    capture.focus({ preventScroll: true });
    document.addEventListener("click", function () { setTimeout(refocus, 0); });
    capture.addEventListener("input", function () {
      clearTimeout(timer);
      var lines = capture.value.toUpperCase().split(/\r\n|\r|\n/)
        .map(function (l) { return l.replace(/[ \t]/g, ""); })
        .filter(function (l) { return l.length > 0; });
      var status = document.querySelector("[data-mrz-status]");
      if (status && capture.value.length > 0) status.classList.add("reading");
      if (lines.length >= 3 && lines[2].length >= 30) {
        timer = setTimeout(function () { capture.form.requestSubmit(); }, 250);
      }
    });
  }

  // Countdowns: the code's validity and the wait before "send again"
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var left = parseInt(el.dataset.countdown, 10);
    var tick = function () {
      if (left <= 0) {
        el.textContent = el.dataset.countdownDone;
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      left -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  });
  document.querySelectorAll("[data-enable-after]").forEach(function (button) {
    var wait = parseInt(button.dataset.enableAfter, 10);
    if (wait > 0) setTimeout(function () { button.disabled = false; }, wait * 1000);
  });
})();

// Small behaviours that need script; every page still works without it.
(function () {
  "use strict";

  // A page shown in answer to a form (a mistake to correct) takes its own address in the history:
  // Back and reload then fetch it again instead of showing the browser's "Confirm Form Resubmission"
  var own = document.querySelector('meta[name="kiosk-page-url"]');
  if (own && window.history.replaceState) window.history.replaceState(null, "", own.content);

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
  // the form once three full lines have arrived and the typing has stopped. A card pulled out
  // too soon types less: after a longer pause what came is sent anyway, and the server says the
  // card was not read, rather than the page "waiting for the card" for ever.
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
      var whole = lines.length >= 3 && lines[2].length >= 30;
      if (whole || lines.length > 0) {
        timer = setTimeout(function () { capture.form.requestSubmit(); }, whole ? 250 : 2000);
      }
    });
  }

  // Countdowns: the code's validity and the wait before "send again". Each shows m:ss left, as
  // rendered by the server, and counts down; at zero its sentence (the nearest element with
  // data-countdown-done) is replaced by that text, or hidden when the text is empty.
  document.querySelectorAll("[data-countdown]").forEach(function (el) {
    var end = Date.now() + parseInt(el.dataset.countdown, 10) * 1000;
    var tick = function () {
      var left = Math.max(0, Math.round((end - Date.now()) / 1000));
      if (left <= 0) {
        var sentence = el.closest("[data-countdown-done]") || el;
        if (sentence.dataset.countdownDone) sentence.textContent = sentence.dataset.countdownDone;
        else sentence.hidden = true;
        return;
      }
      var m = Math.floor(left / 60), s = left % 60;
      el.textContent = m + ":" + (s < 10 ? "0" : "") + s;
      setTimeout(tick, 500); // from the end time, so a late timer never makes it slow
    };
    tick();
  });
  document.querySelectorAll("[data-enable-after]").forEach(function (button) {
    var wait = parseInt(button.dataset.enableAfter, 10);
    if (wait > 0) setTimeout(function () { button.disabled = false; }, wait * 1000);
  });
})();

// The on-screen keyboard types into the text field last touched
(function () {
  "use strict";
  var osk = document.querySelector("[data-osk]");
  if (!osk) return;
  var inputs = document.querySelectorAll("[data-osk-input]");
  var target = inputs[0] || null;
  var shift = false;
  var show = function (name) {
    osk.querySelectorAll("[data-osk-keys]").forEach(function (keys) { keys.hidden = keys.dataset.oskKeys !== name; });
    osk.querySelectorAll("[data-osk-layout]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.oskLayout === name));
    });
  };
  inputs.forEach(function (input) {
    input.readOnly = true;
    input.addEventListener("focus", function () {
      target = input;
      if (input.dataset.oskLayoutDefault) show(input.dataset.oskLayoutDefault);
    });
    input.addEventListener("click", function () { target = input; });
  });
  if (target && target.dataset.oskLayoutDefault) show(target.dataset.oskLayoutDefault);
  osk.addEventListener("click", function (event) {
    var key = event.target.closest("button");
    if (!key || !target) return;
    if (key.dataset.oskLayout) { show(key.dataset.oskLayout); return; }
    if (key.hasAttribute("data-osk-shift")) {
      shift = !shift;
      key.setAttribute("aria-pressed", String(shift));
      return;
    }
    if (key.hasAttribute("data-osk-back")) { target.value = target.value.slice(0, -1); return; }
    var ch = key.dataset.oskChar;
    if (ch === undefined) return;
    // a capital starts the field and each word, unless Shift says otherwise
    var startOfWord = target.value === "" || /[ \-]$/.test(target.value);
    target.value += (shift || startOfWord) ? ch.toUpperCase() : ch;
    if (shift) {
      shift = false;
      osk.querySelector("[data-osk-shift]").setAttribute("aria-pressed", "false");
    }
  });
})();

// The file control: the chosen file's name beside the button, and a file over the limit refused
// here, in the visitor's language, before a byte of it is sent (the server refuses it too)
(function () {
  "use strict";
  var form = document.querySelector("[data-upload]");
  var input = form && form.querySelector("input[type=file]");
  if (!input) return;
  var chosen = form.querySelector("[data-file-chosen]");
  var refused = form.querySelector("[data-file-refused]");
  var max = parseInt(form.dataset.maxBytes, 10);
  var check = function () {
    var file = input.files && input.files[0];
    var earlier = document.querySelector("[data-upload-error]");  // about the file sent before
    if (earlier) earlier.remove();
    var tooLarge = Boolean(file) && file.size > max;
    chosen.textContent = file && !tooLarge ? file.name : "";
    refused.textContent = tooLarge ? form.dataset.tooLarge : "";
    refused.hidden = !tooLarge;
    if (tooLarge) input.value = "";
    return !tooLarge;
  };
  input.addEventListener("change", check);
  form.addEventListener("submit", function (event) {
    if (!check()) event.preventDefault();
  });
})();

// The kiosk's camera: a photo of a document, sent as a file through the same form
(function () {
  "use strict";
  var section = document.querySelector("[data-camera]");
  var form = document.querySelector("[data-upload]");
  if (!section || !form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) return;
  navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: 1920 } }).then(function (stream) {
    var video = section.querySelector("[data-camera-video]");
    video.srcObject = stream;
    section.hidden = false;
    section.querySelector("[data-camera-shoot]").addEventListener("click", function () {
      var canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      canvas.getContext("2d").drawImage(video, 0, 0);
      canvas.toBlob(function (blob) {
        var data = new FormData(form);
        data.set("file", blob, "camera.jpg");
        stream.getTracks().forEach(function (t) { t.stop(); });
        fetch(form.action || window.location.href, { method: "POST", body: data, credentials: "same-origin" })
          .then(function () { window.location.reload(); });
      }, "image/jpeg", 0.9);
    });
  }).catch(function () { /* no camera: the file field stays */ });
})();

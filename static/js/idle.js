// The idle reset: no touch for a while, "Are you still there?" with a countdown, then the visit is
// wiped on the server (POST /reset) and the screen goes back to Welcome. A page the browser
// restores from its back-forward cache reloads, so the server decides what it may show.
(function () {
  "use strict";
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });
  var box = document.querySelector("[data-idle]");
  if (!box) return;
  var idleMs = parseInt(box.dataset.idleS, 10) * 1000;
  var warnS = parseInt(box.dataset.idleWarnS, 10);
  var text = box.querySelector("#idle-text");
  var plural = window.Intl && Intl.PluralRules ? new Intl.PluralRules(document.documentElement.lang) : null;
  var show = function (n) {
    // the sentence in the plural form the number needs ("5 секунд", "3 секунды"), then the number in it
    var form = plural && box.querySelector('template[data-idle-form="' + plural.select(n) + '"]');
    if (form) text.replaceChildren(form.content.cloneNode(true));
    text.querySelector("[data-idle-count]").textContent = String(n);
  };
  var form = box.querySelector("[data-idle-reset]");
  var timer = null, tick = null, left = warnS, lastAlive = Date.now();

  var reset = function () {
    clearInterval(tick);
    form.submit();  // a navigation: the answer's Clear-Site-Data and the redirect take the page away
  };
  var warn = function () {
    left = warnS;
    show(left);
    box.hidden = false;
    box.querySelector("[data-idle-stay]").focus();
    tick = setInterval(function () {
      left -= 1;
      show(Math.max(left, 0));
      if (left <= 0) reset();
    }, 1000);
  };
  var activity = function () {
    if (!box.hidden) return;  // while warning, only "Yes, I am here" keeps the visit
    clearTimeout(timer);
    timer = setTimeout(warn, idleMs);
    // typing on the on-screen keyboard makes no request: tell the server the visit is alive
    if (Date.now() - lastAlive > 30000) {
      lastAlive = Date.now();
      fetch(box.dataset.idleAlive, { method: "POST", credentials: "same-origin" }).catch(function () {});
    }
  };
  box.querySelector("[data-idle-stay]").addEventListener("click", function () {
    clearInterval(tick);
    box.hidden = true;
    activity();
  });
  ["pointerdown", "keydown", "input", "wheel", "touchstart"].forEach(function (name) {
    document.addEventListener(name, activity, { passive: true, capture: true });
  });
  activity();
})();

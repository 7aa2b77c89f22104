// ЭЦҚ through NCALayer, the national certification authority's program on this terminal: it
// listens on a WebSocket on 127.0.0.1 and shows its own window for the ID card or key file and
// the PIN. This page sends it the data to sign (module kz.gov.pki.knca.basics, method sign, a
// CMS), puts the CMS it answers into the form and sends the form; the server checks it. Every
// other outcome (no NCALayer, closed, cancelled, no answer) says so and leaves the SMS code.
(function () {
  "use strict";
  var box = document.querySelector("[data-ecp]");
  if (!box) return;
  // identify: the box holds a form of its own; sign: the box sits inside the consent form, and the
  // CMS goes with the consent to the box's own address
  var form = box.querySelector("[data-ecp-form]") || box.closest("form");
  var consent = form.querySelector("input[name=consent]");
  var button = box.querySelector("[data-ecp-sign]");
  var status = box.querySelector("[data-ecp-status]");
  var waitMs = parseInt(box.dataset.ecpWaitS, 10) * 1000;
  var busy = false;

  var say = function (key) {
    status.textContent = box.dataset["msg" + key.charAt(0).toUpperCase() + key.slice(1)] || "";
    status.dataset.ecpOutcome = key;
  };

  var sign = function () {
    if (busy) return;
    if (consent && !consent.checked) {  // the server checks it too; this saves a PIN typed for nothing
      say("consent");
      consent.focus();
      return;
    }
    busy = true;
    button.disabled = true;
    var done = false;
    var socket;
    var finish = function (key, cms) {
      if (done) return;
      done = true;
      clearTimeout(stall);
      clearInterval(alive);
      try { socket.close(); } catch (e) { /* already closed */ }
      if (cms) {
        box.querySelector("[data-ecp-cms]").value = cms;
        say("waiting");
        if (box.dataset.ecpAction) form.action = box.dataset.ecpAction;
        form.submit();
        return;
      }
      busy = false;
      button.disabled = false;
      say(key);
    };
    // the parent is busy in NCALayer's window, not on this page: keep the idle reset away until
    // the answer comes or the wait ends
    var alive = setInterval(function () { document.dispatchEvent(new Event("input")); }, 10000);
    var stall = setTimeout(function () { finish("stalled"); }, waitMs);
    var opened = false;
    say("waiting");
    try {
      socket = new WebSocket(box.dataset.ecpUrl);
    } catch (e) {
      finish("absent");
      return;
    }
    socket.onopen = function () {
      opened = true;
      socket.send(JSON.stringify({
        module: "kz.gov.pki.knca.basics",
        method: "sign",
        args: {
          allowedStorages: ["AKKZIDCardStore", "PKCS12"],
          format: "cms",
          data: box.dataset.ecpData,
          signingParams: { decode: true, encapsulate: true, digested: false, tsaProfile: null },
          signerParams: { extKeyUsageOids: [box.dataset.ecpEku] },
          locale: box.dataset.ecpLocale
        }
      }));
    };
    socket.onerror = function () { finish(opened ? "closed" : "absent"); };
    socket.onclose = function () { finish(opened ? "closed" : "absent"); };
    socket.onmessage = function (event) {
      var answer;
      try { answer = JSON.parse(event.data); } catch (e) { return; }  // heartbeats are not JSON
      if (!answer || typeof answer !== "object" || !("status" in answer)) return;  // the greeting
      if (answer.status === true) {
        var result = answer.body && answer.body.result;
        var cms = Array.isArray(result) ? result[0] : result;
        if (typeof cms === "string" && cms.length > 0) finish("signed", cms);
        else finish("cancelled");  // NCALayer answers an empty body when the window is closed
        return;
      }
      finish(/CANCEL/i.test(String(answer.code || "")) ? "cancelled" : "failed");
    };
  };
  button.addEventListener("click", sign);
})();

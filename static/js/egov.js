// eGov Mobile by QR code: the parent is busy on their phone, not on this screen. While the page
// waits for the signature (htmx asks the server every few seconds), keep the idle reset away; the
// server's own limit (EGOV_WAIT_S) ends the wait.
(function () {
  "use strict";
  setInterval(function () {
    if (document.querySelector("[data-egov-waiting]")) document.dispatchEvent(new Event("input"));
  }, 10000);
})();

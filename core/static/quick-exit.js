// Quick exit: leave for a neutral site at once, replacing this page in the history, and
// ask the server to forget the report's session. Also on the Escape key. Without
// JavaScript the button is a plain link to /exit, which does the same but the history.
(function () {
  "use strict";
  var button = document.getElementById("quick-exit");
  if (!button) { return; }
  function leave(event) {
    if (event) { event.preventDefault(); }
    try {
      navigator.sendBeacon(button.getAttribute("href"));
    } catch (ignored) { /* leaving matters more than forgetting */ }
    try { window.sessionStorage.clear(); } catch (ignored) { /* private mode */ }
    window.location.replace(button.getAttribute("data-exit"));
  }
  button.addEventListener("click", leave);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !event.isComposing) { leave(event); }
  });
})();

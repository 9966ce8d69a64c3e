// Reload the conversation page while a reply is on its way, so its delivery status shows.
// Never while the owner is typing: any input or a focused text box postpones the reload.
(function () {
  "use strict";
  var thread = document.querySelector("[data-gk-refresh]");
  if (!thread) {
    return;
  }
  var every = Math.max(2, parseInt(thread.getAttribute("data-gk-refresh"), 10) || 5) * 1000;
  var typed = false;
  document.addEventListener("input", function () {
    typed = true;
  });
  function check() {
    var active = document.activeElement;
    var busy = typed || (active && (active.tagName === "TEXTAREA" || active.tagName === "INPUT"));
    if (busy) {
      return;
    }
    window.location.reload();
  }
  window.setTimeout(check, every);
})();

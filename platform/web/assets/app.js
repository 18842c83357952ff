// Mercato: progressive enhancement only. Every page works without this file; with it,
// destructive forms ask first, countdowns tick, whole table rows are clickable, and a
// failed form's error summary takes focus.
(function () {
  "use strict";

  // Forms with data-confirm="question" ask in the layout's <dialog> before submitting.
  var dialog = document.getElementById("confirm-dialog");
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
    if (form.dataset.confirmed === "yes") { delete form.dataset.confirmed; return; }
    if (!dialog || typeof dialog.showModal !== "function") return; // old browser: submit as is
    event.preventDefault();
    var submitter = event.submitter || null;
    var opener = document.activeElement;
    document.getElementById("confirm-dialog-text").textContent = form.getAttribute("data-confirm");
    dialog.returnValue = "";
    dialog.showModal();
    // The safe choice has focus, so Enter does not destroy anything by accident.
    dialog.querySelector('button[value="cancel"]').focus();
    dialog.addEventListener("close", function onClose() {
      dialog.removeEventListener("close", onClose);
      if (dialog.returnValue !== "ok") {
        if (opener && opener.focus) opener.focus();
        return;
      }
      form.dataset.confirmed = "yes";
      if (form.requestSubmit) form.requestSubmit(submitter); else form.submit();
    });
  }, true);

  // <time data-countdown="2026-11-22T10:00:00Z"> ticks down once a second.
  var body = document.body;
  var days = body.getAttribute("data-countdown-days") || "d";
  var ended = body.getAttribute("data-countdown-ended") || "";
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    var timers = document.querySelectorAll("[data-countdown]");
    for (var i = 0; i < timers.length; i++) {
      var el = timers[i];
      var end = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(end)) continue;
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var text = ended;
      if (s > 0) {
        var d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
        text = (d > 0 ? d + days + " " : "") + pad(h) + ":" + pad(m) + ":" + pad(s % 60);
      } else {
        el.classList.add("countdown-ended");
      }
      if (el.textContent !== text) el.textContent = text;
    }
  }
  if (document.querySelector("[data-countdown]")) { tick(); setInterval(tick, 1000); }

  // <tr data-href="/path"> is clickable as a whole; the row still holds a real link for
  // keyboards and screen readers. Only same-site paths are followed.
  document.addEventListener("click", function (event) {
    var row = event.target.closest && event.target.closest("tr[data-href]");
    if (!row || event.defaultPrevented) return;
    if (event.target.closest("a, button, input, select, textarea, label, summary")) return;
    if (window.getSelection && String(window.getSelection()) !== "") return;
    var href = row.getAttribute("data-href");
    if (!/^\/(?![\/\\])/.test(href)) return;
    if (event.ctrlKey || event.metaKey) window.open(href, "_blank", "noopener");
    else window.location.assign(href);
  });

  // After a failed submit, the error summary lists its links in the order of the fields,
  // each named by its field's label, and takes focus so it is read out first.
  var summary = document.querySelector(".form-summary");
  if (summary) {
    var list = summary.querySelector("ul");
    if (list) {
      var items = Array.prototype.slice.call(list.children);
      var target = function (li) {
        var a = li.querySelector("a");
        return a && document.getElementById(a.getAttribute("href").slice(1));
      };
      items.sort(function (x, y) {
        var a = target(x), b = target(y);
        if (!a || !b) return 0;
        return a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
      });
      items.forEach(function (li) {
        var field = target(li), a = li.querySelector("a");
        var label = field && field.labels && field.labels[0];
        if (label && a) {
          var name = label.cloneNode(true);
          Array.prototype.forEach.call(name.querySelectorAll("[aria-hidden=true]"), function (n) { n.remove(); });
          a.textContent = name.textContent.trim() + ": " + a.textContent;
        }
        list.appendChild(li);
      });
    }
    summary.focus();
  }

  // A flash that is in the page at load is not announced by every screen reader; putting
  // it into the live region again after load is.
  var region = document.querySelector("[data-flash-region]");
  if (region && region.firstElementChild) {
    var flash = region.firstElementChild;
    region.removeChild(flash);
    setTimeout(function () { region.appendChild(flash); }, 150);
  }
})();

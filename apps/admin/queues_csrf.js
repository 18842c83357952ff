// Sends the admin session's CSRF token with asynqmon's requests that change something
// (retry, run, archive, delete, pause): the portal refuses a POST or DELETE from a signed-in
// browser without it. asynqmon talks to its API with XMLHttpRequest (axios), so the token is
// added there, for this origin only. The page carries the token in <meta name="csrf-token">.
(function () {
  "use strict";
  var open = XMLHttpRequest.prototype.open;
  var setHeader = XMLHttpRequest.prototype.setRequestHeader;
  XMLHttpRequest.prototype.open = function (method, url) {
    var result = open.apply(this, arguments);
    var safe = /^(GET|HEAD|OPTIONS)$/i.test(String(method));
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (!safe && meta && new URL(String(url), document.baseURI).origin === window.location.origin) {
      setHeader.call(this, "X-CSRF-Token", meta.getAttribute("content"));
    }
    return result;
  };
})();

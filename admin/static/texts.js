// Live SMS length under the override editor, using segments.js's mirror of
// bot/segments.py `measure`; placeholders are filled with the same sample values the server
// used for its first count, so the two agree until the coordinator types.
(function () {
  "use strict";
  var form = document.getElementById("override-form");
  if (!form || !window.HeardSegments) { return; }
  var samples = JSON.parse(form.getAttribute("data-samples") || "{}");
  var textarea = document.getElementById("text");
  var output = document.getElementById("seg-text");

  function asSent(text) {
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(samples, name) ? samples[name] : "Sample";
    });
  }

  function update() {
    var text = asSent(textarea.value.trim());
    var info = window.HeardSegments.measure(text);
    output.textContent = window.HeardSegments.describe(info, text.length);
    output.setAttribute("data-encoding", info.encoding);
    output.setAttribute("data-segments", String(info.segments));
    output.classList.toggle("warn", info.segments > 1 || info.encoding === "UCS-2");
  }

  textarea.addEventListener("input", update);
})();

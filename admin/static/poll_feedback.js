// Live SMS length and cost of the results summary, per language, with segments.js's mirror
// of bot/segments.py `measure`. Each textarea carries data-recipients (respondents who get
// that language's text), so the coordinator sees what the whole send costs before sending;
// the server's preview stays the authority (it sanitises as the outbox will).
(function () {
  "use strict";
  var form = document.getElementById("summary-form");
  if (!form || !window.HeardSegments) { return; }
  var fields = form.querySelectorAll("[data-summary-sms]");
  var total = document.getElementById("summary-total");

  function fallback() {
    // An empty language gets the first non-empty text (the default language comes first).
    for (var i = 0; i < fields.length; i++) { if (fields[i].value.trim()) { return fields[i].value.trim(); } }
    return "";
  }

  function update() {
    var sms = 0;
    Array.prototype.forEach.call(fields, function (textarea) {
      var output = document.getElementById("seg-" + textarea.id);
      var people = parseInt(textarea.getAttribute("data-recipients") || "0", 10);
      var text = textarea.value.trim() || fallback();
      var info = window.HeardSegments.measure(text);
      sms += info.segments * people;
      output.textContent = text.length + " chars · " + info.encoding + " · " + info.segments +
        " SMS × " + people + " = " + (info.segments * people) + " SMS";
      output.setAttribute("data-encoding", info.encoding);
      output.setAttribute("data-segments", String(info.segments));
      output.classList.toggle("warn", info.segments > 1 || info.encoding === "UCS-2");
    });
    total.textContent = "Σ " + sms + " SMS";
    total.setAttribute("data-total", String(sms));
  }

  form.addEventListener("input", update);
  update();
})();

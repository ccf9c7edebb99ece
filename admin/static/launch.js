// Launch screens: the live audience count while ticking boxes, and the live progress bar.
(function () {
  "use strict";
  // Words translated by the page (a JSON block); English when it has none.
  var words = {
    reached: "%(count)s participants reached",
    first: "First question: %(segments)s SMS segments in all; at most %(most)s if everybody answers every question.",
    statuses: {}
  };
  var wordsBlock = document.getElementById("launch-i18n");
  if (wordsBlock) {
    try {
      var translated = JSON.parse(wordsBlock.textContent);
      Object.keys(translated).forEach(function (k) { words[k] = translated[k]; });
    } catch (e) { /* keep English */ }
  }

  // `template` with each %(name)s replaced: strings by text, elements by themselves.
  function fill(parent, template, values) {
    template.split(/(%\(\w+\)s)/).forEach(function (part) {
      var name = /^%\((\w+)\)s$/.exec(part);
      if (!name || !Object.prototype.hasOwnProperty.call(values, name[1])) {
        if (part) { parent.appendChild(document.createTextNode(part)); }
        return;
      }
      var value = values[name[1]];
      parent.appendChild(typeof value === "object" ? value : document.createTextNode(String(value)));
    });
  }

  var form = document.getElementById("launch-form");
  if (form) {
    var timer = null;
    form.addEventListener("change", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        var params = new URLSearchParams();
        Array.prototype.forEach.call(form.querySelectorAll("input[type=checkbox]:checked"), function (box) {
          params.append(box.name, box.value);
        });
        fetch(form.getAttribute("data-estimate-url") + "?" + params.toString(), {credentials: "same-origin"})
          .then(function (r) { return r.json(); })
          .then(function (body) {
            var box = document.getElementById("estimate");
            if (body.error) { box.textContent = body.error; return; }
            var langs = Object.keys(body.by_language).map(function (k) { return k + ": " + body.by_language[k]; }).join(", ");
            box.innerHTML = "";
            var p1 = document.createElement("p"), p2 = document.createElement("p");
            var reached = document.createElement("strong");
            reached.id = "estimate-participants";
            reached.textContent = body.participants;
            fill(p1, words.reached, {count: reached});
            if (langs) { p1.appendChild(document.createTextNode(" (" + langs + ")")); }
            var segments = document.createElement("strong"), most = document.createElement("span");
            segments.id = "estimate-segments";
            segments.textContent = body.first_message_segments;
            most.id = "estimate-max";
            most.textContent = body.segments_max;
            fill(p2, words.first, {segments: segments, most: most});
            box.appendChild(p1); box.appendChild(p2);
          }).catch(function () { /* the "Update the count" button still works */ });
      }, 250);
    });
  }

  var panel = document.getElementById("progress");
  if (!panel) { return; }
  var url = panel.getAttribute("data-progress-url");
  var FINAL = {done: true, cancelled: true};
  function set(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (p) {
      var total = p.messages || 1;
      var bar = document.getElementById("progress-bar");
      bar.setAttribute("aria-valuenow", String(p.percent));
      bar.querySelector(".p-delivered").style.width = (100 * p.delivered / total) + "%";
      bar.querySelector(".p-sent").style.width = (100 * p.sent / total) + "%";
      bar.querySelector(".p-failed").style.width = (100 * p.failed / total) + "%";
      set("progress-percent", p.percent + "%");
      ["queued", "sent", "delivered", "failed", "answered", "reached"].forEach(function (k) { set("count-" + k, p[k]); });
      set("launch-status", words.statuses[p.status] || p.status);
      if (!FINAL[p.status]) { setTimeout(poll, 2000); }
    }).catch(function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 1000);
})();

// Live SMS length next to each prompt: GSM-7 or UCS-2, units and segments.
// A mirror of bot/segments.py `measure` (a browser test checks both agree on a table of
// strings); the server stays the authority and is asked again when the user pauses typing.
(function () {
  "use strict";
  var BASIC = "\u000a\u000d !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz\u00a1\u00a3\u00a4\u00a5\u00a7\u00bf\u00c4\u00c5\u00c6\u00c7\u00c9\u00d1\u00d6\u00d8\u00dc\u00df\u00e0\u00e4\u00e5\u00e6\u00e8\u00e9\u00ec\u00f1\u00f2\u00f6\u00f8\u00f9\u00fc\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a6\u03a8\u03a9";
  var EXTENDED = "\u000c[\\]^{|}~\u20ac"; // escaped: two septets each
  var SINGLE = {"GSM-7": 160, "UCS-2": 70};
  var CONCATENATED = {"GSM-7": 153, "UCS-2": 67};

  function costs(text) {
    var septets = [];
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      if (BASIC.indexOf(ch) >= 0) { septets.push(1); }
      else if (EXTENDED.indexOf(ch) >= 0) { septets.push(2); }
      else { return {encoding: "UCS-2", units: ucs2(text)}; }
    }
    return {encoding: "GSM-7", units: septets};
  }

  function ucs2(text) {
    // One cost per code point: 2 for a surrogate pair (an emoji), never split across segments.
    var units = [];
    for (var i = 0; i < text.length; i++) {
      var code = text.charCodeAt(i);
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) { units.push(2); i++; }
      else { units.push(1); }
    }
    return units;
  }

  function measure(text) {
    var c = costs(text);
    var units = c.units.reduce(function (a, b) { return a + b; }, 0);
    if (units <= SINGLE[c.encoding]) { return {encoding: c.encoding, units: units, segments: 1}; }
    var capacity = CONCATENATED[c.encoding], segments = 1, used = 0;
    c.units.forEach(function (cost) {
      if (used + cost > capacity) { segments++; used = 0; }
      used += cost;
    });
    return {encoding: c.encoding, units: units, segments: segments};
  }

  // The counter's words come translated from the page (`_segments_i18n.html`); English
  // when a page has none.
  var WORDS = {
    "GSM-7": "%(chars)s chars · %(units)s septets · %(encoding)s · %(segments)s SMS",
    "UCS-2": "%(chars)s chars · %(units)s units · %(encoding)s · %(segments)s SMS"
  };
  var wordsBlock = document.getElementById("segments-i18n");
  if (wordsBlock) {
    try {
      var translated = JSON.parse(wordsBlock.textContent);
      Object.keys(WORDS).forEach(function (k) { if (translated[k]) { WORDS[k] = translated[k]; } });
    } catch (e) { /* keep English */ }
  }

  function describe(info, chars) {
    var values = {chars: chars, units: info.units, encoding: info.encoding, segments: info.segments};
    return WORDS[info.encoding === "GSM-7" ? "GSM-7" : "UCS-2"].replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  window.HeardSegments = {measure: measure, describe: describe};

  var form = document.getElementById("poll-builder");
  if (!form) { return; }
  var yesNo = JSON.parse(form.getAttribute("data-yes-no") || "{}");
  var languages = Array.prototype.map.call(
    form.querySelectorAll("[data-prompt][data-q='0']"), function (el) { return el.getAttribute("data-lang"); });

  function localised(labels, lang) {
    if (labels[lang]) { return labels[lang]; }
    for (var i = 0; i < languages.length; i++) { if (labels[languages[i]]) { return labels[languages[i]]; } }
    for (var key in labels) { if (labels[key]) { return labels[key]; } }
    return "";
  }

  // The SMS as bot.flows.answers.prompt_text writes it: prompt, newline, "1 Yes 2 No".
  function smsText(textarea) {
    var q = textarea.getAttribute("data-q"), lang = textarea.getAttribute("data-lang");
    var type = form.querySelector("[data-type-for='" + q + "']").value;
    var choices = [];
    if (type === "rating") { choices = ["(1-5)"]; }
    if (type === "yes_no") {
      choices = ["yes", "no"].map(function (v, n) { return (n + 1) + " " + localised(yesNo[v] || {}, lang); });
    }
    if (type === "choice" || type === "multi_choice") {
      var rows = form.querySelectorAll("#q-" + q + " .choice-row");
      Array.prototype.forEach.call(rows, function (row) {
        var labels = {};
        Array.prototype.forEach.call(row.querySelectorAll("[data-choice-label]"), function (input) {
          if (input.value.trim()) { labels[input.getAttribute("data-lang")] = input.value.trim(); }
        });
        var label = localised(labels, lang);
        if (label) { choices.push((choices.length + 1) + " " + label); }
      });
    }
    var prompt = textarea.value.trim();
    return choices.length ? prompt + "\n" + choices.join(" ") : prompt;
  }

  function show(output, info, chars) {
    output.textContent = describe(info, chars);
    output.setAttribute("data-encoding", info.encoding);
    output.setAttribute("data-segments", String(info.segments));
    output.classList.toggle("warn", info.segments > 1 || info.encoding === "UCS-2");
  }

  var timers = {};
  function check(output, text) {
    // Ask the server too, after a pause: its count is what a launch will be billed.
    clearTimeout(timers[output.id]);
    timers[output.id] = setTimeout(function () {
      var token = form.querySelector("input[name=csrf_token]").value;
      fetch(form.getAttribute("data-segments-url"), {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRFToken": token},
        body: JSON.stringify({text: text})
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (server) {
        if (server) { show(output, server, server.characters); output.setAttribute("data-checked", "server"); }
      }).catch(function () { /* offline: the local count stands */ });
    }, 600);
  }

  function update(textarea) {
    var output = document.getElementById("seg-" + textarea.id);
    if (!output) { return; }
    var text = textarea.hasAttribute("data-prompt") ? smsText(textarea) : textarea.value;
    show(output, measure(text), text.length);
    output.setAttribute("data-checked", "local");
    check(output, text);
  }

  function updateQuestion(q) {
    Array.prototype.forEach.call(form.querySelectorAll("[data-prompt][data-q='" + q + "']"), update);
  }

  form.addEventListener("input", function (event) {
    var el = event.target;
    if (el.hasAttribute("data-prompt") || el.hasAttribute("data-plain-sms")) { update(el); }
    if (el.hasAttribute("data-choice-label")) { updateQuestion(el.getAttribute("data-q")); }
  });
  form.addEventListener("change", function (event) {
    if (event.target.hasAttribute("data-type-for")) { updateQuestion(event.target.getAttribute("data-type-for")); }
  });
  Array.prototype.forEach.call(form.querySelectorAll("[data-prompt], [data-plain-sms]"), function (el) {
    var output = document.getElementById("seg-" + el.id);
    if (output) { show(output, measure(el.hasAttribute("data-prompt") ? smsText(el) : el.value), (el.hasAttribute("data-prompt") ? smsText(el) : el.value).length); }
  });
})();

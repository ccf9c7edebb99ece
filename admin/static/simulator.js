// The phone simulator: SMS mode posts what you type and shows Heard's replies; USSD mode
// dials a session and sends each input the way Africa's Talking does (all inputs so far,
// joined by "*"), showing each CON/END screen.
(function () {
  var form = document.getElementById("sim-form");
  var input = document.getElementById("sim-text");
  var phone = document.getElementById("sim-phone");
  var log = document.getElementById("sim-log");
  var dial = document.getElementById("sim-dial");
  var modes = document.querySelectorAll("input[name=sim-mode]");
  var ussd = null; // {id, inputs, ended} while a USSD session is open
  // The simulator's own words, translated by the page; English when it has none.
  var words = {
    empty: "(empty)", error: "error", no_reply: "(no reply)", network: "network error",
    ended: "(session ended: dial again)", dialling: "(dialling)", dial_first: "(press Dial first)",
    sms_placeholder: "Type a message", ussd_placeholder: "Reply, e.g. 1"
  };
  var wordsBlock = document.getElementById("sim-i18n");
  if (wordsBlock) {
    try {
      var translated = JSON.parse(wordsBlock.textContent);
      Object.keys(translated).forEach(function (k) { if (translated[k]) { words[k] = translated[k]; } });
    } catch (e) { /* keep English */ }
  }

  function add(kind, text) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  function mode() {
    var checked = document.querySelector("input[name=sim-mode]:checked");
    return checked ? checked.value : "sms";
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return {ok: response.ok, body: data}; });
    });
  }

  function sendSms(text) {
    add("out", text || words.empty);
    post("/simulator/api/message", {phone: phone.value, text: text}).then(function (result) {
      if (!result.ok) { add("error", result.body.error || words.error); return; }
      if (result.body.replies.length === 0) { add("note", words.no_reply); }
      result.body.replies.forEach(function (reply) { add("in", reply); });
    }).catch(function () { add("error", words.network); });
  }

  function hop() {
    var body = {phone: phone.value, session_id: ussd.id, text: ussd.inputs.join("*")};
    post("/simulator/api/ussd", body).then(function (result) {
      if (!result.ok) { add("error", result.body.error || words.error); ussd = null; return; }
      add("in ussd", result.body.screen);
      if (result.body.end) { add("note", words.ended); ussd = null; }
    }).catch(function () { add("error", words.network); ussd = null; });
  }

  function startUssd() {
    ussd = {id: String(Date.now()) + Math.random().toString(16).slice(2, 8), inputs: []};
    add("note", words.dialling);
    hop();
  }

  Array.prototype.forEach.call(modes, function (radio) {
    radio.addEventListener("change", function () {
      dial.hidden = mode() !== "ussd";
      input.placeholder = mode() === "ussd" ? words.ussd_placeholder : words.sms_placeholder;
      ussd = null;
    });
  });

  dial.addEventListener("click", startUssd);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    if (mode() === "sms") { sendSms(text); return; }
    if (ussd === null) { add("note", words.dial_first); return; }
    add("out", text || words.empty);
    ussd.inputs.push(text);
    hop();
  });
})();

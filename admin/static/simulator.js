// The phone simulator: posts what you type as an SMS and shows Heard's replies.
(function () {
  var form = document.getElementById("sim-form");
  var input = document.getElementById("sim-text");
  var phone = document.getElementById("sim-phone");
  var log = document.getElementById("sim-log");
  var csrf = document.querySelector("meta[name=csrf-token]");

  function add(kind, text) {
    var item = document.createElement("li");
    item.className = kind;
    item.textContent = text;
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    add("out", text || "(empty)");
    input.value = "";
    fetch("/simulator/api/message", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({phone: phone.value, text: text})
    }).then(function (response) {
      return response.json().then(function (body) { return {ok: response.ok, body: body}; });
    }).then(function (result) {
      if (!result.ok) { add("error", result.body.error || "error"); return; }
      if (result.body.replies.length === 0) { add("note", "(no reply)"); }
      result.body.replies.forEach(function (reply) { add("in", reply); });
    }).catch(function () { add("error", "network error"); });
  });
})();

// Polls an import's progress until it finishes, then reloads once to show the errors.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.status !== "running") return;
  var bar = document.getElementById("progress");
  // The job's status as the page words it (translated); the code itself when unknown.
  var statuses = {};
  var wordsBlock = document.getElementById("imports-i18n");
  if (wordsBlock) {
    try { statuses = JSON.parse(wordsBlock.textContent).statuses || {}; } catch (e) { /* codes */ }
  }
  function show(job) {
    bar.max = job.total || 1;
    bar.value = job.processed;
    box.querySelectorAll("[data-field]").forEach(function (el) {
      var value = job[el.dataset.field];
      el.textContent = el.dataset.field === "status" ? (statuses[value] || value) : value;
    });
  }
  function poll() {
    fetch(box.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        show(job);
        if (job.status === "running") setTimeout(poll, 1000);
        else window.location.reload();
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  setTimeout(poll, 500);
})();

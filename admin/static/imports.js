// Polls an import's progress until it finishes, then reloads once to show the errors.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box || box.dataset.status !== "running") return;
  var bar = document.getElementById("progress");
  function show(job) {
    bar.max = job.total || 1;
    bar.value = job.processed;
    box.querySelectorAll("[data-field]").forEach(function (el) {
      el.textContent = job[el.dataset.field];
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

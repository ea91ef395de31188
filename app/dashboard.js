/* traite-qa dashboard: the measures table (search, axis and status filters,
 * sortable columns, statuses sorted in their own order), the chart whose
 * segments filter the table, and a measure's text in a dialog, opened in the
 * viewport wherever the reader is. The HTML is the server's (escaped); this
 * script only hides, reorders and clones its nodes. */
(function () {
  "use strict";
  if (window.__tqaDashboard) return;
  window.__tqaDashboard = true;

  var sortKey = "number";
  var sortDir = 1;

  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  function rows() { return Array.prototype.slice.call(document.querySelectorAll("#tqa-mtable tbody tr")); }
  function value(id) { var el = document.getElementById(id); return el ? el.value : ""; }

  function applyFilters() {
    var words = fold(value("tqa-msearch")).trim().split(/\s+/).filter(Boolean);
    var axis = value("tqa-maxis");
    var status = value("tqa-mstatus");
    var shown = 0;
    rows().forEach(function (row) {
      var text = fold(row.getAttribute("data-number") + " " + row.querySelector(".tqa-mtitle").textContent);
      var ok = (!axis || row.getAttribute("data-axis") === axis) &&
        (!status || row.getAttribute("data-status") === status) &&
        words.every(function (w) { return text.indexOf(w) !== -1; });
      row.hidden = !ok;
      if (ok) shown += 1;
    });
    var count = document.getElementById("tqa-mcount");
    if (count) count.textContent = shown + (shown > 1 ? " mesures affichées" : " mesure affichée") + (shown < rows().length ? " sur " + rows().length : "");
    document.querySelectorAll("#tqa-chart .tqa-seg").forEach(function (seg) {
      var on = seg.getAttribute("data-axis") === axis && seg.getAttribute("data-status") === status;
      seg.setAttribute("aria-pressed", on ? "true" : "false");
    });
  }

  function sortValue(row, key) {
    if (key === "title") return fold(row.querySelector(".tqa-mtitle").textContent);
    if (key === "status") return parseInt(row.getAttribute("data-order"), 10);
    return parseInt(row.getAttribute("data-" + key), 10);
  }

  function sortBy(key) {
    sortDir = key === sortKey ? -sortDir : 1;
    sortKey = key;
    var body = document.querySelector("#tqa-mtable tbody");
    if (!body) return;
    var sorted = rows().sort(function (a, b) {
      var x = sortValue(a, key);
      var y = sortValue(b, key);
      var c = typeof x === "string" ? x.localeCompare(y, "fr") : x - y;
      if (c === 0) c = sortValue(a, "number") - sortValue(b, "number");
      return c * sortDir;
    });
    sorted.forEach(function (row) { body.appendChild(row); });
    document.querySelectorAll("#tqa-mtable thead th").forEach(function (th) {
      var button = th.querySelector(".tqa-sort");
      var on = button && button.getAttribute("data-key") === key;
      th.setAttribute("aria-sort", on ? (sortDir > 0 ? "ascending" : "descending") : "none");
    });
  }

  // ---------------------------------------------------------- the dialog
  function openMeasure(number) {
    var source = document.getElementById("tqa-msrc-" + number);
    var dialog = document.getElementById("tqa-measure-dialog");
    var body = document.getElementById("tqa-measure");
    if (!source || !dialog || !body) return;
    var copy = source.firstElementChild.cloneNode(true);
    // The copy must not repeat the hidden original's ids: its note buttons point to its own notes.
    copy.querySelectorAll("[id]").forEach(function (el) { el.id = "dlg-" + el.id; });
    copy.querySelectorAll("[data-note]").forEach(function (el) { el.setAttribute("data-note", "dlg-" + el.getAttribute("data-note")); });
    if (copy.id) copy.id = "dlg-" + copy.id;
    body.replaceChildren(copy);
    var title = document.getElementById("tqa-dialog-title");
    if (title) title.textContent = "Mesure " + number;
    if (typeof dialog.showModal === "function") {
      if (!dialog.open) dialog.showModal();
    } else {
      dialog.setAttribute("open", "");
    }
    body.scrollTop = 0;
  }
  window.tqaOpenMeasure = openMeasure;

  function closeDialog() {
    var dialog = document.getElementById("tqa-measure-dialog");
    if (dialog && dialog.open) dialog.close();
  }

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (!t.closest) return;
    var sort = t.closest("#tqa-mtable .tqa-sort");
    if (sort) { sortBy(sort.getAttribute("data-key")); return; }
    var open = t.closest("#tqa-mtable .tqa-open");
    if (open) { openMeasure(open.getAttribute("data-number")); return; }
    var row = t.closest("#tqa-mtable tbody tr");
    if (row) { openMeasure(row.getAttribute("data-number")); return; }
    if (t.closest(".tqa-dialog-close")) { closeDialog(); return; }
    if (t.id === "tqa-measure-dialog") { closeDialog(); return; } // a click on the backdrop
    var seg = t.closest("#tqa-chart .tqa-seg");
    if (seg) {
      var same = seg.getAttribute("aria-pressed") === "true";
      document.getElementById("tqa-maxis").value = same ? "" : seg.getAttribute("data-axis");
      document.getElementById("tqa-mstatus").value = same ? "" : seg.getAttribute("data-status");
      applyFilters();
      var table = document.getElementById("tqa-measures");
      if (table && !same) table.scrollIntoView({ behavior: "smooth", block: "start" });
      return;
    }
    if (t.closest("#tqa-mreset")) {
      ["tqa-msearch", "tqa-maxis", "tqa-mstatus"].forEach(function (id) { var el = document.getElementById(id); if (el) el.value = ""; });
      applyFilters();
      return;
    }
    var fn = t.closest("#tqa-measure .tqa-fnref");
    if (fn && window.tqaOpenNote) { event.preventDefault(); window.tqaOpenNote(fn.getAttribute("data-note")); }
  });

  document.addEventListener("input", function (event) {
    if (event.target.id === "tqa-msearch") applyFilters();
  });
  document.addEventListener("change", function (event) {
    if (event.target.id === "tqa-maxis" || event.target.id === "tqa-mstatus") applyFilters();
  });
})();

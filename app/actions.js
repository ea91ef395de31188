/* traite-qa: what the reader does with an answer. Marker chips show their
 * passage in the sources panel (an older answer's section too), footnote
 * calls open the note, "Copier" copies the answer as Markdown, topic chips
 * and examples ask their question (through chat.js's queue), and "Exporter
 * la conversation" saves the kept turns as a Markdown file. */
(function () {
  "use strict";
  if (window.__tqaActions) return;
  window.__tqaActions = true;

  var EXPORT_HEAD = "# Conversation avec traite-qa\n\nQuestions sur l'évaluation, par la CNCDH (2023), du 2e plan " +
    "national d'action contre la traite des êtres humains (2019-2021). Les citations sont extraites du document.";

  function showPassage(targetId) {
    var card = document.getElementById(targetId);
    if (!card) return false;
    var section = card.closest(".tqa-sources-turn");
    if (section) {
      document.querySelectorAll(".tqa-sources-turn").forEach(function (s) { s.hidden = s !== section; });
    }
    document.querySelectorAll(".tqa-source.tqa-active").forEach(function (c) { c.classList.remove("tqa-active"); });
    card.classList.add("tqa-active", "tqa-flash");
    // Its title in view, however tall the passage (issue 22): the top of the card, not its centre.
    // Side by side, only the sources panel scrolls, so the answer stays where it is.
    var box = card.closest(".tqa-sources");
    var scrolls = box && box.scrollHeight > box.clientHeight + 1 && /(auto|scroll)/.test(getComputedStyle(box).overflowY);
    if (scrolls) {
      box.scrollTo({ top: box.scrollTop + card.getBoundingClientRect().top - box.getBoundingClientRect().top - 8, behavior: "smooth" });
    }
    var r = card.getBoundingClientRect(), b = scrolls ? box.getBoundingClientRect() : null;
    if (!scrolls || b.top < 0 || b.top > window.innerHeight - 40) card.scrollIntoView({ behavior: "smooth", block: "start" });
    window.setTimeout(function () { card.classList.remove("tqa-flash"); }, 1600);
    return true;
  }

  function openNote(noteId) {
    var note = document.getElementById(noteId);
    if (!note) return;
    note.open = true;
    note.classList.add("tqa-flash");
    note.scrollIntoView({ behavior: "smooth", block: "nearest" });
    window.setTimeout(function () { note.classList.remove("tqa-flash"); }, 1600);
  }
  window.tqaOpenNote = openNote;

  function copyText(text, button) {
    function done(ok) {
      if (!button) return;
      var old = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", old);
      button.textContent = ok ? "Copié ✓" : "Copie impossible";
      window.setTimeout(function () { button.textContent = old; }, 1500);
    }
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var ok = false;
      try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
      document.body.removeChild(area);
      done(ok);
    }
    window.__tqaLastCopied = text;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  function exportConversation(button) {
    var list = window.tqaSavedTurns ? window.tqaSavedTurns() : [];
    var status = document.getElementById("tqa-count");
    if (!list.length) {
      if (status) status.textContent = "Aucune conversation à exporter pour l'instant.";
      return;
    }
    var text = EXPORT_HEAD + "\n\n" + list.map(function (t) { return t.markdown || ""; }).join("\n\n") + "\n";
    window.__tqaLastExport = text;
    var blob = new Blob([text], { type: "text/markdown;charset=utf-8" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "conversation-traite-qa-" + new Date().toISOString().slice(0, 10) + ".md";
    document.body.appendChild(link);
    link.click();
    window.setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    if (button) {
      button.textContent = "Conversation exportée ✓";
      window.setTimeout(function () { button.textContent = "Exporter la conversation"; }, 1500);
    }
  }

  // The latest answer, focused (the skip link after "Envoyer"; "Retour à la réponse" on a phone).
  function focusAnswer(answer) {
    if (!answer) return false;
    answer.scrollIntoView({ block: "start" });
    answer.focus({ preventScroll: true });
    return true;
  }
  window.tqaFocusLatest = function () {
    var all = document.querySelectorAll("#tqa-conversation .tqa-bubble[id^=tqa-answer-]");
    return focusAnswer(all[all.length - 1]) || focusAnswer(document.getElementById("tqa-conversation"));
  };

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("#tqa-skip-answer")) {
      event.preventDefault();
      window.tqaFocusLatest();
      return;
    }
    var back = target.closest(".tqa-back");
    if (back) {
      event.preventDefault();
      focusAnswer(document.getElementById(back.getAttribute("data-answer")));
      return;
    }
    if (target.closest("#tqa-export")) {
      event.preventDefault();
      exportConversation(target.closest("#tqa-export"));
      return;
    }
    var el = target.closest(".tqa-marker, .tqa-fnref, .tqa-copy, .tqa-suggest, .tqa-example");
    if (!el) return;
    if (el.classList.contains("tqa-marker")) {
      var t = el.getAttribute("data-target");
      if (t) { event.preventDefault(); showPassage(t); }
    } else if (el.classList.contains("tqa-fnref")) {
      var note = el.getAttribute("data-note");
      if (note) { event.preventDefault(); openNote(note); }
    } else if (el.classList.contains("tqa-copy")) {
      event.preventDefault();
      copyText(el.getAttribute("data-text") || "", el);
    } else {
      event.preventDefault();
      var q = el.getAttribute("data-question") || el.textContent;
      if (q && q.trim()) {
        var tab = document.querySelector("#tqa-tabs button[role=tab]");
        window.tqaAsk(q);
        if (tab && tab.getAttribute("aria-selected") !== "true") tab.click();
      }
    }
  }, true);
})();

/* traite-qa chat: marker chips -> passage, footnote calls, copy, closest topics,
 * and a generated answer's streamed text shown in its pending bubble.
 * One delegated listener: the HTML is re-rendered by Gradio at every update.
 * No inline handlers anywhere; every text inserted by the server is escaped. */
(function () {
  "use strict";
  if (window.__tqaInstalled) return;
  window.__tqaInstalled = true;

  function root() {
    // Gradio renders into the document (no shadow root since Gradio 4).
    return document;
  }

  function showPassage(targetId) {
    var card = root().getElementById(targetId);
    if (!card) return false;
    var section = card.closest(".tqa-sources-turn");
    if (section) {
      root().querySelectorAll(".tqa-sources-turn").forEach(function (s) {
        s.hidden = s !== section;
      });
    }
    root().querySelectorAll(".tqa-source.tqa-active").forEach(function (c) {
      c.classList.remove("tqa-active");
    });
    card.classList.add("tqa-active", "tqa-flash");
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    window.setTimeout(function () {
      card.classList.remove("tqa-flash");
    }, 1600);
    return true;
  }

  function openNote(noteId) {
    var note = root().getElementById(noteId);
    if (!note) return;
    note.open = true;
    note.classList.add("tqa-flash");
    note.scrollIntoView({ behavior: "smooth", block: "nearest" });
    window.setTimeout(function () {
      note.classList.remove("tqa-flash");
    }, 1600);
  }

  function copyText(text, button) {
    function done(ok) {
      if (!button) return;
      var old = button.getAttribute("data-label") || button.textContent;
      button.setAttribute("data-label", old);
      button.textContent = ok ? "Copié ✓" : "Copie impossible";
      window.setTimeout(function () {
        button.textContent = old;
      }, 1500);
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
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
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

  window.tqaCopyLast = function () {
    var buttons = root().querySelectorAll(".tqa-copy");
    if (!buttons.length) return;
    var last = buttons[buttons.length - 1];
    copyText(last.getAttribute("data-text") || "", last);
  };

  function ask(question) {
    var box = root().querySelector("#tqa-question textarea, #tqa-question input");
    var send = root().getElementById("tqa-send");
    if (!box || !send) return;
    box.value = question;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    window.setTimeout(function () {
      send.click();
    }, 60);
  }

  // The server streams a generated answer into #tqa-live (hidden) and renders
  // the conversation only once the answer is final: mirror the streamed text
  // (as text) into the pending bubble meanwhile.
  function mirrorLive() {
    var live = root().querySelector("#tqa-live .tqa-live-text");
    var slot = root().querySelector("#tqa-conversation .tqa-streaming .tqa-answer-text");
    if (!slot) return;
    var text = live ? live.textContent : "";
    if (text && slot.textContent !== text) slot.textContent = text;
  }
  new MutationObserver(mirrorLive).observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  document.addEventListener("click", function (event) {
    if (event.target.closest("#tqa-copy-last")) {
      event.preventDefault();
      window.tqaCopyLast();
      return;
    }
    var el = event.target.closest(".tqa-marker, .tqa-fnref, .tqa-copy, .tqa-suggest");
    if (!el) return;
    if (el.classList.contains("tqa-marker")) {
      var target = el.getAttribute("data-target");
      if (target) {
        event.preventDefault();
        showPassage(target);
      }
    } else if (el.classList.contains("tqa-fnref")) {
      var note = el.getAttribute("data-note");
      if (note) {
        event.preventDefault();
        openNote(note);
      }
    } else if (el.classList.contains("tqa-copy")) {
      event.preventDefault();
      copyText(el.getAttribute("data-text") || "", el);
    } else if (el.classList.contains("tqa-suggest")) {
      event.preventDefault();
      ask(el.getAttribute("data-question") || el.textContent);
    }
  });
})();

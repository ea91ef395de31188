/* traite-qa chat: never lose a question, follow the conversation, keep it.
 *
 * - A question (Enter, "Envoyer", an example, a topic chip) is echoed at once
 *   and queued; the questions go to the server one at a time through the
 *   hidden #tqa-outbox/#tqa-go pair, so none is dropped or erased while an
 *   answer is pending. Text over the limit is not sent and not cut: the
 *   counter says so and the text stays in the box.
 * - After each render the conversation shows the newest question and answer,
 *   unless the reader scrolled up: then a "nouvelle réponse ↓" pill appears.
 * - Each finished turn (#tqa-record) is kept in localStorage; after a reload
 *   the conversation is sent back to be rendered (#tqa-restore), and
 *   "Exporter la conversation" saves it as Markdown with its sources.
 * Chips, footnote calls, "Copier" and the export are in actions.js.
 * The server renders and escapes all HTML; this script only inserts text
 * (textContent) or clones nodes the server rendered. */
(function () {
  "use strict";
  if (window.__tqaChat) return;
  window.__tqaChat = true;

  var STORE = "traite-qa.conversation.v1";
  // The restored conversation, as UTF-8 bytes of the JSON text Gradio sends:
  // the server restores nothing over this (chat.RESTORE_MAX_BYTES), and its
  // Gradio routes take bodies of 64 KiB at most. The oldest turns go first.
  var MAX_RESTORE_BYTES = 32768;
  // What the search ranks a citation by: not shown in the chat, not sent back.
  var UNSHOWN = ["score", "rank", "dense", "lexical", "span", "pinned"];
  var WATCHDOG_MS = 180000;

  function $(selector) { return document.querySelector(selector); }
  function conv() { return document.getElementById("tqa-conversation"); }

  // ------------------------------------------------------------ storage
  function loadTurns() {
    try {
      var value = JSON.parse(window.localStorage.getItem(STORE) || "[]");
      return Array.isArray(value) ? value : [];
    } catch (e) {
      return [];
    }
  }
  function saveTurns(list) {
    while (true) {
      try {
        window.localStorage.setItem(STORE, JSON.stringify(list));
        return;
      } catch (e) {
        if (!list.length) return; // storage unavailable: the page still works, unsaved
        list = list.slice(1); // over the quota: the oldest turn goes first
      }
    }
  }
  window.tqaSavedTurns = loadTurns;

  // -------------------------------------------------------------- queue
  var queue = []; // questions echoed, not yet sent
  var inflight = null; // {text, acked, at}
  var restoring = false;

  function setBoxValue(box, value) {
    box.value = value;
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function enqueue(text) {
    queue.push({ text: text });
    follow = true;
    hidePill();
    pump();
    decorate(true);
  }
  window.tqaAsk = enqueue;
  // What the queue holds (read by the browser tests).
  window.tqaQueueState = function () {
    return { queued: queue.length, inflight: inflight ? inflight.text : null, restoring: restoring, failed: failed.length };
  };

  function pump() {
    if (inflight || restoring || !queue.length) return;
    var box = $("#tqa-outbox textarea, #tqa-outbox input");
    var go = document.getElementById("tqa-go");
    if (!box || !go) {
      window.setTimeout(pump, 200);
      return;
    }
    inflight = queue.shift();
    inflight.at = Date.now();
    inflight.acked = false;
    inflight.renders = renders;
    setBoxValue(box, inflight.text);
    window.setTimeout(function () { go.click(); }, 60);
    var mine = inflight;
    window.setTimeout(function () {
      if (inflight === mine) { // no answer at all: say so, keep the text, go on
        mine.failed = true;
        failed.push(mine);
        inflight = null;
        decorate(true);
        pump();
      }
    }, WATCHDOG_MS);
  }
  var failed = [];

  function finished() {
    inflight = null;
    window.setTimeout(pump, 0);
  }

  // ------------------------------------------------------------ echoes
  function echo(item, label, css) {
    var user = document.createElement("div");
    user.className = "tqa-msg tqa-user tqa-echo";
    var ub = document.createElement("div");
    ub.className = "tqa-bubble";
    ub.textContent = item.text;
    user.appendChild(ub);
    var bot = document.createElement("div");
    bot.className = "tqa-msg tqa-assistant tqa-echo";
    var bb = document.createElement("div");
    bb.className = "tqa-bubble tqa-echo-bubble " + css;
    var text = document.createElement("div");
    text.className = "tqa-answer-text";
    text.textContent = label;
    bb.appendChild(text);
    bot.appendChild(bb);
    return [user, bot];
  }

  // ----------------------------------------------------------- scrolling
  var follow = true; // keep showing the newest message
  var lastTop = 0;
  var lastAnswers = 0;
  var lastRender = null;
  var renders = 0;

  function atBottom(el) { return el.scrollHeight - el.scrollTop - el.clientHeight < 48; }

  document.addEventListener("scroll", function (event) {
    var el = conv();
    if (event.target !== el) return;
    // Our own scrolling lands where we put it; anything else is the reader's.
    if (el.__tqaTarget !== undefined && Math.abs(el.scrollTop - Math.min(el.__tqaTarget, el.scrollHeight - el.clientHeight)) < 2) return;
    follow = atBottom(el);
    lastTop = el.scrollTop;
    if (follow) hidePill();
  }, true);

  function scrollBox(el, top) {
    el.__tqaTarget = top;
    el.scrollTop = top;
    lastTop = el.scrollTop;
  }

  function showNewest(el) {
    // The newest question at the top of the box, so a long answer reads from its start.
    var users = el.querySelectorAll(".tqa-msg.tqa-user");
    var newest = users[users.length - 1];
    var pending = el.querySelector(".tqa-echo, .tqa-streaming");
    if (pending || !newest) {
      scrollBox(el, el.scrollHeight);
    } else {
      scrollBox(el, Math.max(0, newest.offsetTop - 8));
    }
    // And the box itself in the window (a phone scrolls the page, not only the box).
    var rect = el.getBoundingClientRect();
    if (rect.bottom > window.innerHeight || rect.top < 0) {
      el.scrollIntoView({ block: rect.height > window.innerHeight ? "start" : "end" });
    }
  }

  function pill() {
    var box = document.getElementById("tqa-conversation-box");
    if (!box) return null;
    var el = document.getElementById("tqa-newpill");
    if (!el) {
      el = document.createElement("button");
      el.type = "button";
      el.id = "tqa-newpill";
      el.className = "tqa-newpill";
      el.hidden = true;
      el.textContent = "nouvelle réponse ↓";
      el.addEventListener("click", function () {
        follow = true;
        hidePill();
        var c = conv();
        if (c) showNewest(c);
      });
    }
    if (el.parentNode !== box) box.appendChild(el);
    return el;
  }
  function hidePill() { var p = document.getElementById("tqa-newpill"); if (p) p.hidden = true; }

  // -------------------------------------------------------------- render
  function mirrorLive(el) {
    var live = $("#tqa-live .tqa-live-text, #tqa-live .tqa-live-progress");
    var slot = el.querySelector(".tqa-streaming:not(.tqa-echo-bubble) .tqa-answer-text") ||
      el.querySelector(".tqa-echo-bubble.tqa-inflight .tqa-answer-text");
    if (!slot || !live) return;
    if (live.classList.contains("tqa-live-text")) {
      if (slot.textContent !== live.textContent) slot.textContent = live.textContent;
    } else if (!slot.firstElementChild || slot.firstElementChild.outerHTML !== live.outerHTML) {
      slot.replaceChildren(live.cloneNode(true)); // server-rendered, escaped
    }
  }

  function decorate(force) {
    var el = conv();
    if (!el) return;
    // Gradio patches the DOM in place: a new render is told by its data-render id.
    var fresh = el.getAttribute("data-render") !== lastRender;
    if (!fresh && !force) { mirrorLive(el); return; }
    if (fresh) {
      renders += 1;
      if (inflight && renders > inflight.renders) inflight.acked = true; // the server shows it now
    }
    lastRender = el.getAttribute("data-render");
    el.querySelectorAll(".tqa-echo").forEach(function (n) { n.remove(); });
    var items = [];
    failed.forEach(function (item) { items = items.concat(echo(item, "La question n'a pas pu être posée (serveur injoignable ou occupé). Reposez-la quand vous voulez.", "tqa-failed")); });
    if (inflight && !inflight.acked) items = items.concat(echo(inflight, "Envoi de la question…", "tqa-streaming tqa-inflight"));
    queue.forEach(function (item) { items = items.concat(echo(item, "En attente : cette question sera posée après la réponse en cours.", "tqa-streaming tqa-queued")); });
    items.forEach(function (n) { el.appendChild(n); });
    el.classList.toggle("tqa-has-echo", items.length > 0);
    mirrorLive(el);
    var answers = el.querySelectorAll(".tqa-assistant .tqa-bubble[id^=tqa-answer-]").length;
    if (follow) {
      showNewest(el);
    } else {
      scrollBox(el, lastTop);
      if (answers > lastAnswers) { var p = pill(); if (p) p.hidden = false; }
    }
    lastAnswers = answers;
    document.dispatchEvent(new CustomEvent("tqa:rendered"));
  }

  var lastRecord = null;
  function readRecord() {
    var rec = $("#tqa-record .tqa-record");
    if (!rec || rec.getAttribute("data-nonce") === lastRecord) return;
    lastRecord = rec.getAttribute("data-nonce");
    var count = parseInt(rec.getAttribute("data-count") || "0", 10);
    var list = loadTurns();
    if (rec.getAttribute("data-restored")) {
      restoring = false;
      saveTurns(count ? list.slice(Math.max(0, list.length - count)) : []);
      pump();
      return;
    }
    var raw = rec.getAttribute("data-turn");
    if (raw) {
      var turn = null;
      try { turn = JSON.parse(raw); } catch (e) { turn = null; }
      var keep = count - 1;
      list = keep > 0 ? list.slice(Math.max(0, list.length - keep)) : [];
      if (turn) list.push(turn);
      saveTurns(list);
    } else if (count === 0) {
      saveTurns([]);
    }
    if (inflight) finished();
  }

  var scheduled = false;
  new MutationObserver(function () {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(function () {
      scheduled = false;
      readRecord();
      decorate(false);
      setup();
    });
  }).observe(document.documentElement, { childList: true, subtree: true, characterData: true });

  // ------------------------------------------------------------ restore
  var started = false;
  function setup() {
    if (started) return;
    var box = $("#tqa-restore textarea, #tqa-restore input");
    var go = document.getElementById("tqa-restore-go");
    if (!box || !go || !document.getElementById("tqa-go")) return;
    started = true;
    var list = loadTurns().map(function (t) { return { question: t.question, answer: shown(t.answer), filters: t.filters }; });
    var payload = JSON.stringify(list);
    while (bytes(JSON.stringify(payload)) > MAX_RESTORE_BYTES && list.length) {
      list = list.slice(1);
      payload = JSON.stringify(list);
    }
    if (!list.length) return;
    restoring = true;
    window.setTimeout(function () {
      setBoxValue(box, payload);
      window.setTimeout(function () { go.click(); }, 60);
    }, 300);
    window.setTimeout(function () { if (restoring) { restoring = false; pump(); } }, 15000);
  }

  function bytes(text) { return new TextEncoder().encode(text).length; }
  function shown(answer) {
    if (!answer || typeof answer !== "object" || !Array.isArray(answer.citations)) return answer;
    var copy = Object.assign({}, answer);
    copy.citations = answer.citations.map(function (c) {
      if (!c || typeof c !== "object") return c;
      var kept = Object.assign({}, c);
      UNSHOWN.forEach(function (key) { delete kept[key]; });
      return kept;
    });
    return copy;
  }

  // -------------------------------------------------------------- input
  function questionBox() { return $("#tqa-question textarea, #tqa-question input"); }
  function limit() { var c = document.getElementById("tqa-count"); return c ? parseInt(c.getAttribute("data-limit"), 10) || 2000 : 2000; }

  function updateCount() {
    var box = questionBox();
    var out = document.getElementById("tqa-count");
    if (!box || !out) return true;
    var n = box.value.length;
    var max = limit();
    out.classList.toggle("tqa-over", n > max);
    if (n > max) {
      out.textContent = "La question fait " + n + " caractères ; la limite est de " + max +
        " : raccourcissez-la pour l'envoyer (rien n'a été coupé).";
      return false;
    }
    out.textContent = n > max * 0.8 ? n + " / " + max + " caractères" : "";
    return true;
  }

  function submit() {
    var box = questionBox();
    if (!box) return;
    var text = box.value;
    if (!text.trim()) return;
    if (!updateCount()) { box.focus(); return; }
    setBoxValue(box, "");
    updateCount();
    enqueue(text);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (!event.target.closest || !event.target.closest("#tqa-question")) return;
    event.preventDefault();
    event.stopPropagation();
    submit();
  }, true);

  document.addEventListener("input", function (event) {
    if (event.target.closest && event.target.closest("#tqa-question")) updateCount();
  }, true);

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!target.closest) return;
    if (target.closest("#tqa-send")) {
      event.preventDefault();
      event.stopPropagation();
      submit();
      return;
    }
    if (target.closest("#tqa-clear")) { // the server clears its copy; drop the queue and ours
      queue = [];
      failed = [];
      saveTurns([]);
    }
  }, true);
})();

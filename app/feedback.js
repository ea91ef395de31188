/* traite-qa: 👍/👎 under each answer (issue 16).
 * 👍 is sent at once; 👎 opens "what was wrong" and an optional comment.
 * POST /api/feedback {answer_id, rating, reason?, comment?}; when the server
 * no longer remembers the answer (404, after a restart) it is sent again with
 * the answer JSON kept in localStorage (with the answer_key the server put on
 * it: without it, the server refuses an answer it cannot tell it served). A failure says so; the answer stays.
 * What was sent is remembered per answer (rating, id, edit token), so a
 * re-render keeps it shown, and the sender can change it (PUT
 * /api/feedback/{id}: the store keeps the latest) or withdraw it ("Retirer
 * mon avis": DELETE /api/feedback/{id}). */
(function () {
  "use strict";
  if (window.__tqaFeedback) return;
  window.__tqaFeedback = true;

  var STORE = "traite-qa.feedback.v1";
  var THANKS = { up: "Merci ! Votre 👍 est enregistré.", down: "Merci ! Votre retour est enregistré : il aidera à corriger les réponses." };
  var CHANGED = "Votre avis est modifié : seul le dernier est gardé.";
  var WITHDRAWN = "Votre avis est retiré : il est effacé de la base des retours.";

  function sent() {
    try { return JSON.parse(window.localStorage.getItem(STORE) || "{}") || {}; } catch (e) { return {}; }
  }
  // {rating, id, token} per answer (an older page kept the rating only: a string).
  function sentFor(answerId) {
    var v = sent()[answerId];
    if (!v) return null;
    return typeof v === "string" ? { rating: v } : v;
  }
  function remember(answerId, entry) {
    var all = sent();
    if (entry) all[answerId] = entry; else delete all[answerId];
    try { window.localStorage.setItem(STORE, JSON.stringify(all)); } catch (e) { /* shown, not remembered */ }
  }

  function answerJson(answerId) {
    var turns = window.tqaSavedTurns ? window.tqaSavedTurns() : [];
    for (var i = turns.length - 1; i >= 0; i--) {
      var a = turns[i] && turns[i].answer;
      if (a && a.answer_id === answerId) return a;
    }
    return null;
  }

  function say(box, text, bad) {
    var out = box.querySelector(".tqa-fb-status");
    out.textContent = text;
    out.classList.toggle("tqa-fb-error", !!bad);
  }

  function mark(box, rating, message) {
    box.classList.toggle("tqa-fb-done", !!rating);
    box.querySelectorAll(".tqa-rate").forEach(function (b) {
      b.setAttribute("aria-pressed", rating && b.getAttribute("data-rating") === rating ? "true" : "false");
    });
    var form = box.querySelector(".tqa-fb-form");
    if (form) form.hidden = true;
    var withdraw = box.querySelector(".tqa-fb-withdraw");
    var entry = sentFor(box.getAttribute("data-answer-id"));
    if (withdraw) withdraw.hidden = !(rating && entry && entry.token);
    say(box, message !== undefined ? message : (THANKS[rating] || THANKS.up), false);
  }

  function problem(status, code) {
    if (status === 503) return "Votre retour n'a pas pu être enregistré : la base des retours est indisponible. Réessayez plus tard.";
    if (code === "invalid_feedback") return "Votre retour n'a pas pu être enregistré : vérifiez la longueur du commentaire.";
    if (code === "unknown_answer" || code === "answer_mismatch" || code === "answer_not_served") return "Votre retour n'a pas pu être enregistré : le serveur ne connaît plus cette réponse.";
    if (status === 429) return "Votre retour n'a pas pu être enregistré : le serveur est occupé, réessayez dans un instant.";
    return "Votre retour n'a pas pu être enregistré (erreur " + (status || "réseau") + "). Réessayez plus tard.";
  }

  function post(body, method, path) {
    return window.fetch(path || "/api/feedback", {
      method: method || "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return { status: response.status, data: data };
      });
    });
  }

  function send(box, rating, reason, comment) {
    var answerId = box.getAttribute("data-answer-id");
    var before = sentFor(answerId);
    if (before && before.token && before.id) return change(box, before, rating, reason, comment);
    var body = { answer_id: answerId, rating: rating };
    if (reason) body.reason = reason;
    if (comment) body.comment = comment;
    box.classList.add("tqa-fb-busy");
    say(box, "Envoi du retour…", false);
    post(body).then(function (r) {
      if (r.status === 404 && answerJson(answerId)) {
        body.answer = answerJson(answerId);
        return post(body);
      }
      return r;
    }).then(function (r) {
      box.classList.remove("tqa-fb-busy");
      if (r.status === 201) {
        remember(answerId, { rating: rating, id: r.data.id, token: r.data.edit_token });
        mark(box, rating);
      } else {
        var code = r.data && r.data.error ? r.data.error.code : null;
        say(box, problem(r.status, code), true);
      }
    }, function () {
      box.classList.remove("tqa-fb-busy");
      say(box, problem(0, null), true);
    });
  }

  // The sender's own rating, replaced (the store keeps the latest) or withdrawn.
  function change(box, before, rating, reason, comment) {
    var answerId = box.getAttribute("data-answer-id");
    var body = { edit_token: before.token, rating: rating };
    if (reason) body.reason = reason;
    if (comment) body.comment = comment;
    box.classList.add("tqa-fb-busy");
    say(box, "Modification de votre avis…", false);
    post(body, "PUT", "/api/feedback/" + encodeURIComponent(before.id)).then(function (r) {
      box.classList.remove("tqa-fb-busy");
      if (r.status === 200) {
        remember(answerId, { rating: rating, id: before.id, token: before.token });
        mark(box, rating, CHANGED);
      } else if (r.status === 404) {  // withdrawn or purged meanwhile: a new rating
        remember(answerId, null);
        send(box, rating, reason, comment);
      } else {
        say(box, problem(r.status, r.data && r.data.error ? r.data.error.code : null), true);
      }
    }, function () { box.classList.remove("tqa-fb-busy"); say(box, problem(0, null), true); });
  }

  function withdraw(box) {
    var answerId = box.getAttribute("data-answer-id");
    var before = sentFor(answerId);
    if (!before || !before.token) return;
    box.classList.add("tqa-fb-busy");
    say(box, "Retrait de votre avis…", false);
    post({ edit_token: before.token }, "DELETE", "/api/feedback/" + encodeURIComponent(before.id)).then(function (r) {
      box.classList.remove("tqa-fb-busy");
      if (r.status === 200 || r.status === 404) {  // 404: already gone
        remember(answerId, null);
        mark(box, null, WITHDRAWN);
        var up = box.querySelector(".tqa-rate");
        if (up) up.focus();
      } else {
        say(box, problem(r.status, r.data && r.data.error ? r.data.error.code : null), true);
      }
    }, function () { box.classList.remove("tqa-fb-busy"); say(box, problem(0, null), true); });
  }

  function checkComment(box) {
    var area = box.querySelector(".tqa-fb-comment");
    var max = parseInt(area.getAttribute("data-max") || "500", 10);
    if (area.value.length > max) {
      say(box, "Le commentaire fait " + area.value.length + " caractères ; la limite est de " + max + " : raccourcissez-le.", true);
      return false;
    }
    return true;
  }

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    var box = event.target.closest(".tqa-feedback");
    if (!box) return;
    var rate = event.target.closest(".tqa-rate");
    if (rate) {
      event.preventDefault();
      var rating = rate.getAttribute("data-rating");
      var form = box.querySelector(".tqa-fb-form");
      if (rating === "up") {
        send(box, "up");
      } else {
        form.hidden = !form.hidden;
        rate.setAttribute("aria-expanded", form.hidden ? "false" : "true");
        if (!form.hidden) (form.querySelector("input[type=radio]") || form).focus();
      }
      return;
    }
    if (event.target.closest(".tqa-fb-withdraw")) {
      event.preventDefault();
      withdraw(box);
      return;
    }
    if (event.target.closest(".tqa-fb-cancel")) {
      event.preventDefault();
      box.querySelector(".tqa-fb-form").hidden = true;
      return;
    }
    if (event.target.closest(".tqa-fb-send")) {
      event.preventDefault();
      if (!checkComment(box)) return;
      var checked = box.querySelector(".tqa-fb-form input[type=radio]:checked");
      var comment = box.querySelector(".tqa-fb-comment").value.trim();
      send(box, "down", checked ? checked.value : null, comment || null);
    }
  });

  document.addEventListener("input", function (event) {
    var area = event.target.closest && event.target.closest(".tqa-fb-comment");
    if (area) checkComment(area.closest(".tqa-feedback")) && say(area.closest(".tqa-feedback"), "", false);
  });

  // The conversation is re-rendered at each answer: show again what was sent.
  document.addEventListener("tqa:rendered", function () {
    document.querySelectorAll(".tqa-feedback").forEach(function (box) {
      var entry = sentFor(box.getAttribute("data-answer-id"));
      if (entry && !box.classList.contains("tqa-fb-done")) mark(box, entry.rating);
    });
  });
})();

/* traite-qa page: one language, and dropdowns that close.
 * - Gradio's components carry English strings that its French translation
 *   lacks, or that are not translatable at all ("Search...", "Fullscreen"):
 *   they are replaced in text, placeholders, titles and aria-labels.
 * - A dropdown's option list stays open when the focus leaves it with Tab:
 *   it is closed by blurring its input when the focus goes elsewhere. */
(function () {
  "use strict";
  if (window.__tqaPage) return;
  window.__tqaPage = true;

  var FRENCH = {
    "Search...": "Rechercher…",
    "Filter...": "Filtrer…",
    "Filter": "Filtrer",
    "Clear filters": "Effacer les filtres",
    "Copy table data": "Copier le tableau",
    "Fullscreen": "Plein écran",
    "Exit fullscreen mode": "Quitter le plein écran",
    "Exit fullscreen": "Quitter le plein écran",
    "Copy": "Copier",
    "Copied": "Copié",
    "Copy to clipboard": "Copier",
    "Clear": "Effacer",
    "Close": "Fermer",
    "Loading...": "Chargement…",
    "Loading": "Chargement",
    "Error": "Erreur",
    "Use via API": "Utiliser via l'API",
    "Built with Gradio": "Créé avec Gradio",
    "Settings": "Paramètres",
    "Download": "Télécharger",
    "Reset": "Réinitialiser",
    "Reset to default": "Valeur par défaut",
    "Share": "Partager",
    "Dropdown": "Liste déroulante",
    "Slider": "Curseur",
    "Number input for": "Valeur de",
    "Textbox": "Zone de texte",
    "Select": "Choisir",
    "Expand": "Déplier",
    "Collapse": "Replier",
    "Show more": "Afficher plus",
    "Show less": "Afficher moins",
    "More tabs": "Autres onglets",
    "Reset to default value": "Revenir à la valeur par défaut",
    "Gradio footer navigation": "Liens de bas de page",
    "Use via API or MCP": "Utiliser via l'API ou MCP",
  };
  var ATTRIBUTES = ["placeholder", "title", "aria-label"];

  function translate(root) {
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      var text = node.nodeValue.trim();
      if (text && Object.prototype.hasOwnProperty.call(FRENCH, text)) {
        node.nodeValue = node.nodeValue.replace(text, FRENCH[text]);
      }
    }
    ATTRIBUTES.forEach(function (name) {
      root.querySelectorAll("[" + name + "]").forEach(function (el) {
        var value = el.getAttribute(name);
        if (Object.prototype.hasOwnProperty.call(FRENCH, value)) el.setAttribute(name, FRENCH[value]);
        else if (name === "aria-label" && /^Number input for /.test(value)) el.setAttribute(name, "Valeur de " + value.slice(17));
      });
    });
  }
  window.tqaTranslate = translate;

  var scheduled = false;
  new MutationObserver(function () {
    if (scheduled) return;
    scheduled = true;
    window.requestAnimationFrame(function () {
      scheduled = false;
      if (document.body) translate(document.body);
    });
  }).observe(document.documentElement, { childList: true, subtree: true, attributes: true, attributeFilter: ATTRIBUTES });

  document.documentElement.setAttribute("lang", "fr");

  // Tab out of a dropdown: its option list (aria-controls) stays open over
  // the form; hide it until the dropdown has the focus again.
  function optionList(input) {
    var id = input.getAttribute("aria-controls");
    var list = id ? document.getElementById(id) : null;
    return list ? (list.closest(".options") || list) : null;
  }
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[role=combobox]")) return;
    window.setTimeout(function () {
      if (document.activeElement === input) return;
      var list = optionList(input);
      if (list) list.style.display = "none";
      input.setAttribute("aria-expanded", "false");
    }, 0);
  }, true);
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[role=combobox]")) return;
    var list = optionList(input);
    if (list) list.style.display = "";
  }, true);
})();

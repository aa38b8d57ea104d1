// The curator's pages work without this script; it only makes them quicker to use:
// drag and drop to reorder (the arrow buttons do the same without it), and the fetch
// status of a new pearl updated in place (the page refreshes itself without it).
// Served from our origin under the curator pages' CSP: no inline script, no eval.
"use strict";

(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]');
  const token = csrf ? csrf.getAttribute("content") : "";

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": token },
      body: JSON.stringify(body),
    });
  }

  function announce(list, text) {
    let live = list.parentNode.querySelector(".sortable__live");
    if (!live) {
      live = document.createElement("p");
      live.className = "sortable__live visually-hidden";
      live.setAttribute("role", "status");
      live.setAttribute("aria-live", "polite");
      list.parentNode.insertBefore(live, list);
    }
    live.textContent = text;
  }

  function sortable(list) {
    const kind = list.dataset.sortable; // "pearls" or "children"
    const url = list.dataset.orderUrl;
    let dragged = null;
    let before = null;

    list.querySelectorAll("[draggable]").forEach(function (item) {
      item.addEventListener("dragstart", function (event) {
        dragged = item;
        before = Array.from(list.children);
        item.classList.add("is-dragging");
        event.dataTransfer.effectAllowed = "move";
        event.dataTransfer.setData("text/plain", item.dataset.id);
      });
      item.addEventListener("dragend", function () {
        item.classList.remove("is-dragging");
        dragged = null;
      });
    });

    list.addEventListener("dragover", function (event) {
      if (!dragged) return;
      event.preventDefault();
      const target = event.target.closest("[draggable]");
      if (!target || target === dragged || target.parentNode !== list) return;
      const box = target.getBoundingClientRect();
      const after = event.clientY > box.top + box.height / 2;
      list.insertBefore(dragged, after ? target.nextSibling : target);
    });

    list.addEventListener("drop", function (event) {
      event.preventDefault();
      const order = Array.from(list.querySelectorAll("[draggable]")).map(function (li) {
        return kind === "pearls" ? Number(li.dataset.id) : li.dataset.id;
      });
      const body = {};
      body[kind] = order;
      const undo = before;
      post(url, body).then(function (response) {
        if (response.ok) {
          announce(list, "Nouvel ordre enregistré.");
          return;
        }
        // Someone changed the list meanwhile (409) or the session ended: show the truth.
        undo.forEach(function (li) { list.appendChild(li); });
        window.location.reload();
      }, function () {
        undo.forEach(function (li) { list.appendChild(li); });
        announce(list, "L'ordre n'a pas pu être enregistré.");
      });
    });
  }

  const LABELS = { ok: "lue", pending: "en lecture", failed: "page indisponible", not_article: "pas un article" };

  function show(panel, status) {
    const badge = panel.querySelector('[data-field="fetch_status"]');
    const detail = panel.querySelector('[data-field="detail"]');
    badge.textContent = LABELS[status.fetch_status] || status.fetch_status;
    badge.className = "badge badge--status-" + status.fetch_status;
    detail.textContent = "";
    if (status.fetch_status === "pending" && status.job_state !== "failed") {
      detail.textContent = "La page est en cours de lecture" + (status.attempts ? " (essai " + status.attempts + ")" : "") + "…";
      return false;
    }
    if (status.fetch_status === "ok") {
      const link = document.createElement("a");
      link.href = panel.dataset.reader;
      link.textContent = "voir la copie propre";
      detail.append("La page a été lue : ", link, ".");
      const title = document.querySelector('[data-field="title"]');
      if (title && status.title) title.textContent = status.title;
    } else if (status.last_error) {
      detail.textContent = "Échec : " + status.last_error;
    }
    return true;
  }

  // Updated in place, never by reloading: the page may hold a note being typed.
  function watch(panel) {
    if (panel.dataset.waiting !== "yes") return;
    const url = panel.dataset.statusUrl;
    let delay = 500;
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (status) {
          if (status && show(panel, status)) return;
          delay = Math.min(delay * 1.5, 5000);
          window.setTimeout(poll, delay);
        }, function () {
          delay = Math.min(delay * 2, 10000);
          window.setTimeout(poll, delay);
        });
    }
    window.setTimeout(poll, delay);
  }

  document.querySelectorAll("[data-sortable]").forEach(sortable);
  document.querySelectorAll(".fetch-status[data-status-url]").forEach(watch);
  document.documentElement.classList.add("js");
})();

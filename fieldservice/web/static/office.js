// Office pages: small progressive enhancements on top of htmx (served from /office/static, no inline script).
// - The dispatch board: drag a visit card onto a technician's row and a day to move it (the server runs the
//   same assignment and reschedule services as the form; a refusal shows in the side panel).
// - Picker searches keep the chosen option when the list is refreshed.
(function () {
  "use strict";

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest("[data-visit-id][draggable=true]") : null;
    if (!card) { return; }
    dragged = card;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.visitId);
  });

  document.addEventListener("dragend", function () {
    dragged = null;
    document.querySelectorAll(".drop-target").forEach(function (cell) { cell.classList.remove("drop-target"); });
  });

  function cellOf(event) {
    return event.target.closest ? event.target.closest("td.cell[data-day]") : null;
  }

  document.addEventListener("dragover", function (event) {
    var cell = cellOf(event);
    if (!cell || !dragged) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    cell.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var cell = cellOf(event);
    if (cell) { cell.classList.remove("drop-target"); }
  });

  document.addEventListener("drop", function (event) {
    var cell = cellOf(event);
    if (!cell || !dragged || !window.htmx) { return; }
    event.preventDefault();
    cell.classList.remove("drop-target");
    var board = document.getElementById("board");
    var url = board.dataset.moveTemplate.replace("00000000-0000-0000-0000-000000000000", dragged.dataset.visitId);
    window.htmx.ajax("POST", url, {
      target: "#side-panel", swap: "innerHTML",
      values: { csrf_token: board.dataset.csrf, version: dragged.dataset.version,
                technician_id: cell.dataset.technicianId, day: cell.dataset.day }
    });
    dragged = null;
  });

  // a card clicked on the board is marked as the one the side panel shows
  document.addEventListener("click", function (event) {
    var card = event.target.closest ? event.target.closest("a.card[data-visit-id]") : null;
    if (!card) { return; }
    document.querySelectorAll("a.card.selected").forEach(function (c) { c.classList.remove("selected"); });
    card.classList.add("selected");
  });
}());

// Live board: one card per live conference, redrawn from each SSE snapshot.
import { aiText, duration, el, listen, markers, participantsTable } from "./common.js";

const board = document.getElementById("board");
const status = document.getElementById("board-status");
let last = { conferences: [] };

function card(conf) {
  const link = el("a", { href: board.dataset.conferenceUrl.replace("__NAME__", encodeURIComponent(conf.name)) }, conf.name);
  return el("section", { class: "card conf", "data-name": conf.name },
    el("h2", {}, link, " ", el("span", { class: "badge" }, conf.status)),
    el("p", {}, "Duration ", el("span", { class: "duration" }, duration(conf)), " · AI: ", aiText(conf.ai)),
    el("p", { class: "markers" }, ...markers(conf.markers)),
    participantsTable(conf.participants));
}

function render(data) {
  last = data;
  const cards = data.conferences.map(card);
  board.replaceChildren(...(cards.length ? cards : [el("p", { class: "muted" }, "No live conferences.")]));
}

listen(board.dataset.events, render, status);
setInterval(() => {
  for (const conf of last.conferences) {
    const node = board.querySelector(`section[data-name="${CSS.escape(conf.name)}"] .duration`);
    if (node) node.textContent = duration(conf);
  }
}, 1000);

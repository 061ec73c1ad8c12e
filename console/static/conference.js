// Conference view: live state over SSE; controls POST to the console (same service as /api).
import { aiText, duration, el, listen, markers, participantsTable, post } from "./common.js";
import { Listener } from "./listen.js";

const root = document.getElementById("conference");
const errorBox = document.getElementById("action-error");
let last = null;
const CUT_TITLE = "The caller talked over this line; it is shown as far as it was heard.";

function render(conf) {
  last = conf;
  document.getElementById("conf-status").textContent = conf.status;
  document.getElementById("ai-state").textContent = aiText(conf.ai);
  document.getElementById("duration").textContent = duration(conf);
  document.getElementById("markers").replaceChildren(...markers(conf.markers));
  document.getElementById("participants").replaceChildren(participantsTable(conf.participants));
  document.getElementById("transcript").replaceChildren(...conf.transcript.map(transcriptLine));
  document.getElementById("tool-calls").replaceChildren(...conf.tool_calls.map((t) =>
    el("li", {}, `${t.name} (${t.status})`)));
  document.getElementById("events").replaceChildren(...conf.events.map((e) =>
    el("li", {}, `${e.received_at} ${e.source}/${e.event}`)));
}

// One transcript line; an interrupted AI line says so in words (not only by its style).
function transcriptLine(line) {
  const attrs = { class: `line role-${line.role}${line.interrupted ? " interrupted" : ""}` };
  if (line.interrupted) attrs["data-interrupted"] = "true";
  const cut = line.interrupted ? el("span", { class: "cut", title: CUT_TITLE }, "(interrupted)") : null;
  return el("li", attrs, el("span", { class: "speaker" }, line.speaker), " ",
    el("span", { class: "text" }, line.text), cut ? " " : "", cut);
}

function formBody(form) {
  const body = {};
  for (const [key, value] of new FormData(form).entries()) if (value !== "") body[key] = value;
  return body;
}

async function submit(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const body = formBody(form);
  const question = form.dataset.confirm ||
    (form.dataset.confirmWhen && body.mode === form.dataset.confirmWhen ? "Barge in: everyone will hear this supervisor. Continue?" : null);
  if (question && !window.confirm(question)) return;
  const path = form.dataset.action.replace("{label}", encodeURIComponent(body.label || ""));
  delete body.label;
  if (!form.dataset.action.includes("{label}") && form.elements.label) body.label = form.elements.label.value;
  errorBox.hidden = true;
  try {
    await post(`${root.dataset.base}/${path}`, body);
  } catch (error) {
    errorBox.textContent = error.message;
    errorBox.hidden = false;
    errorBox.focus();
  }
}

for (const form of root.querySelectorAll("form[data-action]")) form.addEventListener("submit", submit);
errorBox.tabIndex = -1;
listen(root.dataset.events, render, document.getElementById("live-status"));
setInterval(() => { if (last) document.getElementById("duration").textContent = duration(last); }, 1000);

// Live-listen: one Listener at a time; the button toggles it, "L" is its shortcut.
const listenForm = document.getElementById("listen-form");
const listenButton = document.getElementById("listen-button");
const listenState = document.getElementById("listen-state");
let listener = null;

function toggleListen(event) {
  if (event) event.preventDefault();
  if (listener) {
    listener.stop();
    listener = null;
    listenButton.textContent = "Listen (L)";
    return;
  }
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const leg = encodeURIComponent(document.getElementById("listen-leg").value);
  // url_for() of a WebSocket route is absolute (ws://); keep its path, use this page's origin.
  const path = new URL(listenForm.dataset.socket, location.href).pathname;
  const url = `${scheme}//${location.host}${path}?leg=${leg}`;
  const capture = new URLSearchParams(location.search).has("capture");
  listener = new Listener(url, listenForm.dataset.worklet, {
    capture, onState: (state) => { listenState.textContent = state; } });
  window.forklineListener = listener;  // read by tests and by the level meter
  listenButton.textContent = "Stop listening (L)";
  listener.start().catch((error) => {
    listenState.textContent = `audio error: ${error.message}`;
    listener = null;
  });
}

listenForm.addEventListener("submit", toggleListen);
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  if (!typing && !event.ctrlKey && !event.metaKey && !event.altKey && event.key.toLowerCase() === "l") {
    toggleListen(event);
  }
});

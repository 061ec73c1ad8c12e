// "Speak from this browser": joins the conference as this browser's leg, switches its mode
// (listen / whisper / barge) through the console, and always shows what is being sent.
import { post } from "./common.js";
import { MicError, Supervisor } from "./mic.js";

const box = document.getElementById("browser-supervise");
const indicator = document.getElementById("mic-indicator");
const message = document.getElementById("mic-message");
const coach = document.getElementById("mic-coach");
const BARGE_QUESTION = "Barge in: everyone in the conference will hear your microphone. Continue?";
let sup = null;
let mode = null;  // the leg's confirmed mode; null while not in the call
let label = null;  // this browser's participant label (from the `dialing` notice)
let pending = false;  // a whisper Twilio has not switched to coaching yet

function show(state, text) { indicator.dataset.state = state; indicator.textContent = text; }
function say(text) { message.textContent = text || ""; message.hidden = !text; }

function showMode() {
  if (!sup || !sup.connected) return show("off", "nothing (not in the call)");
  if (!sup.mic && mode !== "listen") return show("nomic", `nothing (no microphone); the call still has you in ${mode}`);
  if (mode === "listen") show("muted", "nothing (muted, listening)");
  else if (mode === "whisper" && pending) show("pending", `nothing yet: whisper waits for ${coach.value} to join`);
  else if (mode === "whisper") show("whisper", `your microphone to ${coach.value} only (whispering)`);
  else if (mode === "barge") show("live", "your microphone to everyone (LIVE)");
}

// The live participants table (conference.js, over SSE) says what Twilio has this leg doing:
// a pending whisper turns into coaching when its target joins, and pauses when it leaves.
// What the table said when the mode was last set is older than the answer: ignore it until it
// changes.
let stale = null;
const stateCell = () => label && document.querySelector(`#participants tr[data-label="${label}"] .state`);
new MutationObserver(() => {
  const cell = stateCell();
  if (!cell || mode !== "whisper" || cell.textContent === stale) return;
  stale = null;
  const now = cell.textContent !== "coaching";
  if (now !== pending) { pending = now; showMode(); }
}).observe(document.getElementById("participants"), { childList: true, subtree: true });

function supervisor() {
  if (sup) return sup;
  const path = new URL(box.dataset.socket, location.href).pathname;
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  sup = new Supervisor(`${scheme}//${location.host}${path}`, {
    playerUrl: box.dataset.player, micUrl: box.dataset.mic,
    onNotice: (notice) => {
      if (notice.type === "error") say(notice.message);
      if (notice.type === "dialing") label = notice.label;
      if (notice.type === "ended" || notice.type === "closed") { mode = null; sup = null; showMode(); }
    },
    onMicLost: () => {
      say(`Microphone disconnected: you are sending nothing. The conference is unchanged (you are still in ${mode || "no"} mode).`);
      showMode();
    },
  });
  window.forklineSupervisor = sup;  // read by tests (frames sent and heard)
  return sup;
}

async function joined() {
  const s = supervisor();
  if (s.connected) return s;
  if (!s.joining) { show("connecting", "nothing (joining, muted)"); s.joining = s.connect(); }
  await s.joining;
  mode = mode || "listen";
  return s;
}

async function setMode(next) {
  say("");
  if (next === "barge" && !window.confirm(BARGE_QUESTION)) return;
  const s = supervisor();
  if (next === "listen") s.sending = false;  // stop at once; the server mutes next
  else {
    try { await s.ensureMicrophone(); } catch (error) {
      if (!(error instanceof MicError)) throw error;
      say(`${error.message} Nothing was changed.`);
      showMode();
      return;
    }
  }
  try {
    await joined();
    const body = next === "whisper" ? { mode: next, coach: coach.value } : { mode: next };
    stale = stateCell() ? stateCell().textContent : null;
    const result = await post(box.dataset.mode, body);
    mode = result.mode;
    pending = Boolean(result.pending);
    s.sending = mode !== "listen";
    showMode();
  } catch (error) {
    say(error.message);
    if (s.sending && next !== mode) s.sending = mode !== "listen";
    showMode();
  }
}

function leave() {
  if (sup) sup.close();
  sup = null; mode = null;
  showMode();
}

const actions = { m: () => setMode("listen"), w: () => setMode("whisper"), b: () => setMode("barge") };
document.getElementById("mic-listen").addEventListener("click", actions.m);
document.getElementById("mic-whisper").addEventListener("click", actions.w);
document.getElementById("mic-barge").addEventListener("click", actions.b);
document.getElementById("mic-leave").addEventListener("click", leave);
window.addEventListener("pagehide", leave);
document.addEventListener("keydown", (event) => {
  const typing = ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName);
  const action = actions[event.key.toLowerCase()];
  if (action && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
    event.preventDefault();
    action();
  }
});

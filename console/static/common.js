// Shared helpers: DOM building (textContent only: never innerHTML with data) and CSRF'd POSTs.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]').content;
}

export async function post(url, body) {
  // Answers {ok: true, ...} or the admin API's {error: {code, message}}.
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "Accept": "application/json",
               "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body || {}),
  });
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  if (!response.ok) {
    const error = data.error || { message: `HTTP ${response.status}` };
    const fields = error.fields ? " (" + Object.entries(error.fields).map(([k, v]) => `${k}: ${v}`).join(", ") + ")" : "";
    throw new Error(error.message + fields);
  }
  return data;
}

export function participantsTable(participants) {
  const body = el("tbody");
  for (const p of participants) {
    const state = el("span", { class: `state state-${p.state}` }, p.state);
    const talking = p.speaking ? el("span", { class: "speaking", "data-speaking": "true" }, "speaking") : null;
    body.append(el("tr", { "data-label": p.label }, el("td", {}, p.label, talking ? " " : "", talking), el("td", {}, p.role),
      el("td", {}, state, p.coach ? ` → ${p.coach}` : ""), el("td", {}, p.mode || "")));
  }
  const head = el("thead", {}, el("tr", {}, ...["Label", "Role", "State", "Mode"].map(
    (t) => el("th", { scope: "col" }, t))));
  return el("table", { class: "participants" }, el("caption", { class: "sr-only" }, "Participants"), head, body);
}

export function markers(m) {
  const out = [];
  if (m && m.barge_in) out.push(el("span", { class: "marker", "data-marker": "barge-in" }, "barge-in"));
  if (m && m.dropped_stream) out.push(el("span", { class: "marker", "data-marker": "dropped-stream" }, "dropped stream"));
  return out;
}

export function duration(conf) {
  const start = conf.started_at || conf.created_at;
  if (!start) return "–";
  const end = conf.ended_at ? Date.parse(conf.ended_at) : Date.now();
  const s = Math.max(0, Math.round((end - Date.parse(start)) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

export function aiText(ai) {
  if (!ai || !ai.present) return "not in the call";
  return `${ai.agent} / ${ai.mode}${ai.coach ? " → " + ai.coach : ""} / ${ai.backend}`;
}

export function listen(url, onData, statusNode) {
  const source = new EventSource(url);
  source.onopen = () => { statusNode.textContent = "Live"; statusNode.dataset.live = "true"; };
  source.onerror = () => { statusNode.textContent = "Reconnecting…"; statusNode.dataset.live = "false"; };
  source.onmessage = (event) => onData(JSON.parse(event.data));
  return source;
}

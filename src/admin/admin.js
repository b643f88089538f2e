// The web admin page: plain DOM and fetch, no build step. Every text the
// page shows is in STRINGS (English and Chinese); data from the API is
// only ever set with textContent, never parsed as HTML.

// The labels in every language, from the server's message files
// (locales/*.ftl, the `web-` messages): { en: { key: text }, zh: … }.
const STRINGS = await fetch("strings.json").then((r) => r.json());

const $ = (id) => document.getElementById(id);
let lang = pickLang();
let token = sessionStorage.getItem("talkgroups.token") || "";
let live = null; // the AbortController of the open event stream

function pickLang() {
  const saved = localStorage.getItem("talkgroups.lang");
  if (saved && STRINGS[saved]) return saved;
  return (navigator.language || "en").toLowerCase().startsWith("zh") ? "zh" : "en";
}

function t(key, args = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => String(args[k] ?? ""));
}

function translatePage() {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  document.title = t("page_title");
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $("lang").value = lang;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c != null) e.append(c);
  return e;
}

function cell(label, content) {
  const td = el("td", { "data-label": label });
  td.append(content ?? "");
  return td;
}

function when(iso) {
  if (!iso) return t("never");
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(lang === "zh" ? "zh-CN" : undefined);
}

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let r;
  try {
    r = await fetch(`/api/v1/${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "offline", t("offline"));
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (r.status === 401) {
    signOut(t("bad_token"));
    throw new ApiError(401, "unauthorized", t("bad_token"));
  }
  if (!r.ok) {
    const msg = r.status === 403 ? t("out_of_scope") : (data && data.message) || r.statusText;
    throw new ApiError(r.status, data && data.error, msg);
  }
  return data;
}

function say(message, isError = false) {
  const n = $("notice");
  n.textContent = message;
  n.classList.toggle("error", isError);
}

function failed(e) {
  if (e.status !== 401) say(t("failed", { message: e.message }), true);
}

function show(id) {
  for (const s of ["login", "groups", "group"]) $(s).hidden = s !== id;
  $("logout").hidden = id === "login";
}

function signOut(message = "") {
  stopLive();
  token = "";
  sessionStorage.removeItem("talkgroups.token");
  say("");
  $("login-error").textContent = message;
  show("login");
  if (location.hash !== "#/") history.replaceState(null, "", "#/");
  $("token").value = "";
  $("token").focus();
}

// ---- groups ---------------------------------------------------------------

async function showGroups() {
  stopLive();
  const groups = await api("GET", "groups");
  const body = $("groups-table").tBodies[0];
  body.replaceChildren();
  for (const g of groups) {
    const link = el("a", { href: `#/g/${encodeURIComponent(g.name)}`, text: g.name });
    body.append(el("tr", {},
      cell(t("group"), link),
      cell(t("title"), g.title || ""),
      cell(t("join_policy"), t(`j_${g.join}`)),
      cell(t("members"), String(g.members)),
      cell(t("online"), String(g.online)),
      cell(t("pending"), String(g.pending)),
    ));
  }
  $("groups-empty").hidden = groups.length > 0;
  $("groups-table").hidden = groups.length === 0;
  show("groups");
}

// ---- one group ------------------------------------------------------------

let current = null; // the group's name

async function showGroup(name) {
  if (current !== name) stopLive();
  current = name;
  const g = encodeURIComponent(name);
  const [info, members, blacklist, routes, bridges, mucs, history] = await Promise.all([
    api("GET", `groups/${g}`),
    api("GET", `groups/${g}/members`),
    api("GET", `groups/${g}/blacklist`),
    api("GET", `groups/${g}/routes`),
    api("GET", `groups/${g}/bridges`),
    api("GET", `groups/${g}/mucs`),
    live ? null : api("GET", `groups/${g}/messages?limit=50`),
  ]);
  if (current !== name) return;
  $("group-title").textContent = info.title ? `${info.title} (${info.name})` : info.name;
  $("group-meta").textContent = t("meta", {
    jid: info.jid, join: t(`j_${info.join}`), members: info.members, online: info.online,
  });
  renderMembers(name, members);
  renderBlacklist(name, blacklist);
  renderLinks(routes, bridges, mucs);
  show("group");
  if (history) {
    $("messages").replaceChildren();
    for (const m of history) addMessage(m);
    startLive(name, history.length ? history[history.length - 1].id : null);
  }
}

function renderMembers(name, members) {
  const pending = $("pending");
  pending.replaceChildren();
  const body = $("members-table").tBodies[0];
  body.replaceChildren();
  const g = encodeURIComponent(name);
  for (const m of members) {
    const jid = encodeURIComponent(m.jid);
    if (m.state === "pending") {
      pending.append(el("li", {},
        el("span", { class: "jid", text: m.jid }),
        el("button", {
          type: "button", text: t("approve"), "aria-label": `${t("approve")} ${m.jid}`,
          onclick: () => act("PUT", `groups/${g}/members/${jid}`),
        })));
      continue;
    }
    const mute = el("button", {
      type: "button", text: m.muted ? t("unmute") : t("mute"),
      "aria-label": `${m.muted ? t("unmute") : t("mute")} ${m.jid}`,
      onclick: () => act("PUT", `groups/${g}/members/${jid}`, { muted: !m.muted }),
    });
    const kick = el("button", {
      type: "button", class: "danger", text: t("kick"), "aria-label": `${t("kick")} ${m.jid}`,
      onclick: () => {
        if (confirm(t("confirm_kick", { jid: m.jid }))) act("DELETE", `groups/${g}/members/${jid}`);
      },
    });
    body.append(el("tr", {},
      cell(t("member"), el("span", { class: "jid", text: m.jid })),
      cell(t("nick"), m.nick || ""),
      cell(t("online"), el("span", { class: m.online ? "dot on" : "dot", text: m.online ? t("yes") : t("no") })),
      cell(t("admin"), m.admin ? t("yes") : t("no")),
      cell(t("muted"), m.muted ? t("yes") : t("no")),
      cell(t("actions"), el("span", { class: "actions" }, mute, kick)),
    ));
  }
  if (!pending.children.length) pending.append(el("li", { class: "hint", text: t("no_pending") }));
}

function renderBlacklist(name, list) {
  const ul = $("blacklist");
  ul.replaceChildren();
  const g = encodeURIComponent(name);
  for (const jid of list) {
    ul.append(el("li", {},
      el("span", { class: "jid", text: jid }),
      el("button", {
        type: "button", text: t("remove"), "aria-label": `${t("remove")} ${jid}`,
        onclick: () => act("DELETE", `groups/${g}/blacklist/${encodeURIComponent(jid)}`),
      })));
  }
  if (!list.length) ul.append(el("li", { class: "hint", text: t("no_blacklist") }));
}

function linkStatus(l) {
  const parts = [];
  if (l.state) parts.push(t("room_state", { state: l.state }) + (l.reason ? ` (${l.reason})` : ""));
  if (l.last_ok) parts.push(t("last_ok", { at: when(l.last_ok) }));
  if (l.last_error) parts.push(t("last_error", { at: when(l.last_error.at), error: l.last_error.error }));
  if (l.last_received || l.last_inbound) parts.push(t("last_received", { at: when(l.last_received || l.last_inbound) }));
  if (l.queued) parts.push(t("queued", { n: l.queued }));
  return parts.join(" · ") || "—";
}

function renderLinks(routes, bridges, mucs) {
  const body = $("links-table").tBodies[0];
  body.replaceChildren();
  const rows = [
    ...routes.map((r) => [r, t(r.direction === "send" ? "k_send" : "k_receive"), r.url || ""]),
    ...bridges.map((b) => [b, `${t("k_bridge")} (${b.platform})`, ""]),
    ...mucs.map((m) => [m, t("k_muc"), m.room]),
  ];
  for (const [l, kind, target] of rows) {
    body.append(el("tr", {},
      cell(t("name"), l.name), cell(t("kind"), kind), cell(t("target"), target),
      cell(t("status"), linkStatus(l))));
  }
  $("links-empty").hidden = rows.length > 0;
  $("links-table").hidden = rows.length === 0;
}

async function act(method, path, body) {
  try {
    const r = await api(method, path, body);
    if (r && r.message) say(r.message);
    if (current) await showGroup(current);
  } catch (e) {
    failed(e);
  }
}

// ---- live messages ----------------------------------------------------------

const KEEP = 100; // messages kept on the page

function addMessage(m) {
  const list = $("messages");
  const time = el("time", { datetime: m.sent_at, text: when(m.sent_at) });
  const nick = el("b", { text: m.nick || t("notice_from_group") });
  const body = el("span", { class: "body", text: m.removed ? t("message_removed") : m.body });
  list.append(el("li", { "data-id": String(m.id) }, time, " ", nick, " ", body));
  while (list.children.length > KEEP) list.firstChild.remove();
  list.scrollTop = list.scrollHeight;
}

function stopLive() {
  if (live) live.abort();
  live = null;
}

// EventSource cannot send an Authorization header: the stream is read
// with fetch, and resumed with Last-Event-ID after a drop.
function startLive(name, lastId) {
  stopLive();
  const ctl = new AbortController();
  live = ctl;
  let last = lastId;
  let refresh = null;
  const onEvent = (type, data, id) => {
    if (type === "message") {
      if (id) last = id;
      addMessage(JSON.parse(data));
    } else if (type === "join" || type === "leave" || type === "pending") {
      clearTimeout(refresh);
      refresh = setTimeout(() => { if (live === ctl) showGroup(name).catch(failed); }, 300);
    }
  };
  const run = async () => {
    while (!ctl.signal.aborted) {
      try {
        const headers = { Authorization: `Bearer ${token}` };
        if (last != null) headers["Last-Event-ID"] = String(last);
        const r = await fetch(`/api/v1/groups/${encodeURIComponent(name)}/events`, {
          headers, signal: ctl.signal,
        });
        if (r.status === 401) { signOut(t("bad_token")); return; }
        if (!r.ok || !r.body) throw new Error(String(r.status));
        $("live-state").textContent = t("live");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let type = "message", data = "", id = null;
            for (const line of frame.split("\n")) {
              if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
              else if (line.startsWith("id:")) id = Number(line.slice(3).trim());
            }
            if (data) onEvent(type, data, id);
          }
        }
      } catch (e) {
        if (ctl.signal.aborted) return;
      }
      $("live-state").textContent = t("reconnecting");
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  };
  run();
}

// ---- routing ----------------------------------------------------------------

async function route() {
  const h = location.hash;
  if (h.startsWith("#token=")) {
    // The fragment never reaches the server; take the token and forget it.
    token = decodeURIComponent(h.slice(7));
    sessionStorage.setItem("talkgroups.token", token);
    history.replaceState(null, "", "#/");
  }
  if (!token) { signOut(); return; }
  say(t("loading"));
  try {
    const m = location.hash.match(/^#\/g\/(.+)$/);
    if (m) await showGroup(decodeURIComponent(m[1]));
    else { current = null; await showGroups(); }
    say("");
  } catch (e) {
    failed(e);
  }
}

$("login-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const v = $("token").value.trim();
  if (!v) { $("login-error").textContent = t("no_token"); return; }
  token = v;
  sessionStorage.setItem("talkgroups.token", v);
  $("login-error").textContent = "";
  route();
});

$("announce-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const box = $("announce-body");
  const body = box.value.trim();
  if (!body || !current) return;
  try {
    await api("POST", `groups/${encodeURIComponent(current)}/messages`, { body });
    box.value = "";
    say(t("sent"));
  } catch (err) {
    failed(err);
  }
});

$("blacklist-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const box = $("blacklist-jid");
  const jid = box.value.trim();
  if (!jid || !current) return;
  box.value = "";
  act("PUT", `groups/${encodeURIComponent(current)}/blacklist/${encodeURIComponent(jid)}`);
});

$("logout").addEventListener("click", () => signOut());
$("lang").addEventListener("change", () => {
  lang = $("lang").value;
  localStorage.setItem("talkgroups.lang", lang);
  translatePage();
  route();
});
window.addEventListener("hashchange", route);
translatePage();
route();

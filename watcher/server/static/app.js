// watcher's status page: /status every few seconds, /events as a live feed.
// No framework, no build step; text goes in through textContent only.
"use strict";
(() => {
  const MAX_FEED = 300;          // the feed stays this long however many events arrive
  const BACKFILL = 100;          // events replayed from the journal when the page opens
  const REFRESH_MS = 5000;
  const BAD = new Set(["failed", "rejected"]);
  const WARN = new Set(["needs_review", "paused"]);
  let skew = 0;                  // browser clock minus daemon clock, in ms
  let stream = null;

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, ...kids) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    for (const k of kids) e.append(k instanceof Node ? k : String(k ?? ""));
    return e;
  }
  // seconds from the daemon's now to iso (negative: past), and how long that reads
  const until = (iso) => Math.round((Date.parse(iso) + skew - Date.now()) / 1000);
  const span = (a) => (a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min`
    : a < 172800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86400)} d`);
  function rel(iso) {
    if (!iso) return "never";
    const s = until(iso);
    return s <= 0 ? `${span(-s)} ago` : `in ${span(s)}`;
  }
  // a poll's time is a deadline, not an event: "due" once reached (a poll takes a moment
  // to start and answer), "overdue by" when the daemon is well behind it
  const OVERDUE_S = 5;
  function nextPoll(iso) {
    if (!iso) return "";
    const s = until(iso);
    return s > 0 ? `in ${span(s)}` : -s < OVERDUE_S ? "due" : `overdue by ${span(-s)}`;
  }
  const short = (id) => (id && id.length > 16 ? `${id.slice(0, 9)}…${id.slice(-5)}` : id || "");
  const num = (n) => el("td", "num", (n ?? 0).toLocaleString());
  function row(tbody, cells) {
    const tr = el("tr");
    for (const c of cells) tr.append(c instanceof Node ? c : el("td", "", c));
    tbody.append(tr);
  }

  function sources(list) {
    const tbody = $("sources").tBodies[0];
    tbody.replaceChildren();
    for (const s of list) {
      // a source another replica polls carries its owner's report: failing or not
      const said = s.health ?? (s.failing === true ? "failing" : s.failing === false ? "ok" : "unknown");
      const health = el("td", said === "unknown" ? "muted" : `h-${said}`, said);
      if (s.health_since) health.append(el("span", "muted", ` ${rel(s.health_since)}`));
      if (s.last_error) health.title = s.last_error;
      if (s.first_sync) {
        const f = s.first_sync;
        health.append(el("div", "sync", `first sync: ${f.pages} pages, ${f.runs} runs, ${f.runs_per_s}/s`));
      }
      const tracked = s.tracked ?? (typeof s.runs === "number" ? s.runs : null);
      const runs = el("td", "num", tracked === null ? "" : tracked.toLocaleString());
      if (s.runs && typeof s.runs === "object") {
        runs.title = Object.entries(s.runs).map(([k, v]) => `${k}: ${v}`).join("\n");
      }
      const owner = el("td", "owner", s.owner || "");
      owner.title = s.owner || "";
      const provider = el("td", "", s.provider);
      if (s.push) provider.append(el("span", s.push.live ? "h-ok" : "muted",
        s.push.live ? " · push live" : " · push quiet"));
      row(tbody, [el("td", "", s.name), provider, health, rel(s.last_success),
        nextPoll(s.next_poll), runs, num(s.live), el("td", s.stuck ? "num warn" : "num", s.stuck),
        owner]);
    }
  }

  function sinks(list) {
    const tbody = $("sinks").tBodies[0];
    tbody.replaceChildren();
    for (const k of list) {
      // null: delivered by no replica that reports now (its holder is gone), not "ok"
      const state = k.failing === true ? el("td", "h-failing", "failing")
        : k.failing === false ? el("td", "h-ok", "ok") : el("td", "muted", "unknown");
      if (k.failing && k.failing_since) state.append(el("span", "muted", ` ${rel(k.failing_since)}`));
      if (k.last_error) {
        state.title = k.last_error;
        state.append(el("div", "err", k.last_error.length > 120 ? `${k.last_error.slice(0, 120)}…` : k.last_error));
      }
      row(tbody, [k.name, k.type, state,
        num(k.backlog), rel(k.last_delivery), num(k.delivered),
        el("td", k.dead_letters ? "num bad" : "num", k.dead_letters), num(k.silenced)]);
    }
  }

  // a heartbeat's state: pinging (well), unwell (why), not taken (the monitor refused or
  // was unreachable at the last request), or pinged by another replica
  function heartbeats(list) {
    $("heartbeats-section").hidden = !list || list.length === 0;
    const tbody = $("heartbeats").tBodies[0];
    tbody.replaceChildren();
    for (const h of list || []) {
      const state = !h.pinging ? el("td", "muted", h.owner ? "elsewhere" : "idle")
        : h.healthy === false ? el("td", "h-failing", "unwell")
        : h.failing ? el("td", "h-failing", "not taken") : el("td", "h-ok", "pinging");
      if (h.reason || h.failing) state.title = h.reason || h.last_error;
      row(tbody, [h.name, h.kind, state, rel(h.last_ping), h.last_error || "", h.owner || ""]);
    }
  }

  function silences(list) {
    $("silences-section").hidden = !list || list.length === 0;
    const ul = $("silences");
    ul.replaceChildren();
    for (const s of list || []) {
      const match = s.match && typeof s.match === "object"
        ? Object.entries(s.match).map(([k, v]) => `${k}=${v}`).join(" ") : String(s.match ?? "");
      const until = s.ends || s.until;
      ul.append(el("li", "", `${match}`, el("span", "muted",
        `${until ? ` until ${new Date(until).toLocaleString()}` : ""}${s.comment ? ` — ${s.comment}` : ""}`)));
    }
  }

  function inhibitions(list) {
    $("inhibitions-section").hidden = !list || list.length === 0;
    const ul = $("inhibitions");
    ul.replaceChildren();
    for (const x of list || []) {
      const held = Object.entries(x.held || {}).map(([k, n]) => `${k}: ${n}`).join(", ");
      const what = `${x.episode} ${x.source}${x.workflow ? ` / ${x.workflow}` : ""}`;
      ul.append(el("li", "", `${x.rule}: while ${what}`, el("span", "muted",
        `${x.since ? ` since ${new Date(x.since).toLocaleString()}` : ""} — held ${held || "nothing yet"}`)));
    }
  }

  function chart(f) {
    const box = $("chart");
    box.replaceChildren();
    const rows = (f.workflows || []).slice(0, 12);
    if (!rows.length) { box.append(el("p", "muted", "No failed runs in the last 24 hours.")); return; }
    const max = Math.max(1, ...rows.map((w) => Math.max(...w.counts)));
    const NS = "http://www.w3.org/2000/svg", W = 10, H = 22;
    for (const w of rows) {
      const svg = document.createElementNS(NS, "svg");
      svg.setAttribute("width", w.counts.length * W);
      svg.setAttribute("height", H);
      w.counts.forEach((n, i) => {
        const r = document.createElementNS(NS, "rect"), h = n ? Math.max(2, (n / max) * H) : 1;
        r.setAttribute("x", i * W + 1); r.setAttribute("width", W - 2);
        r.setAttribute("y", H - h); r.setAttribute("height", h);
        if (!n) r.setAttribute("class", "zero");
        const t = document.createElementNS(NS, "title");
        t.textContent = `${n} failed, hour from ${new Date(f.hours[i]).toLocaleTimeString()}`;
        r.append(t); svg.append(r);
      });
      box.append(el("div", "chart-row", el("span", "", w.workflow), svg, el("span", "num bad", w.total)));
    }
  }

  function render(st) {
    skew = Date.now() - Date.parse(st.now);
    const failing = st.sources.filter((s) => s.health === "failing").length;
    const sinksFailing = st.sinks.filter((k) => k.failing).length;
    $("summary").textContent = `${st.sources.length} sources, ${failing} failing; ` +
      `${st.sinks.length} sinks, ${sinksFailing} failing; v${st.replica.version}`;
    sources(st.sources); sinks(st.sinks); silences(st.silences);
    inhibitions(st.inhibitions); chart(st.failures_24h);
    heartbeats(st.heartbeats);
    const reps = $("replicas");
    reps.replaceChildren(...st.replicas.map((r) => el("li", "", `${r.id}${r.self ? " (this page)" : ""}`,
      el("span", "muted", ` v${r.version}, up since ${rel(r.started_at)}${r.alive === false ? ", gone" : ""}`))));
    $("store").textContent = `journal head ${st.store.journal_head}` +
      (st.store.writes_failing ? `; STATE WRITES FAILING: ${st.store.writes_failing}` : "");
    if (!stream) follow(st);
  }

  function feedItem(ev, type) {
    const d = ev.data || {}, kind = type.replace(/^watcher\./, "");
    let cls = BAD.has(d.status) || kind === "source.failing" ? "bad"
      : kind === "run.stuck" || WARN.has(d.status) ? "warn" : d.status === "succeeded" || kind === "source.recovered" ? "ok" : "";
    const li = el("li", cls, el("span", "t", new Date(ev.time).toLocaleTimeString()));
    li.dataset.type = kind;
    li.append(el("span", "", `${d.source || ""} `));
    if (kind.startsWith("source.")) {
      li.append(el("span", "st", kind === "source.failing" ? "source failing" : "source recovered"));
    } else {
      li.append(el("span", "", `${d.workflow_name || d.workflow_id || ""} `));
      const run = el(d.url && /^https?:\/\//.test(d.url) ? "a" : "span", "run", short(d.run_id));
      if (run.tagName === "A") { run.href = d.url; run.target = "_blank"; run.rel = "noopener noreferrer"; }
      run.title = d.run_id || "";
      li.append(run, " ", el("span", `st ${cls}`, kind === "run.stuck" ? `stuck in ${d.status}`
        : d.previous_status ? `${d.previous_status} → ${d.status}` : `new, ${d.status}`));
    }
    if (d.error) li.append(el("span", "err", d.error.length > 200 ? `${d.error.slice(0, 200)}…` : d.error));
    return li;
  }

  function follow(st) {
    const since = Math.max(0, st.store.journal_head - BACKFILL);
    stream = new EventSource(`events?since=${since}`);
    const feed = $("feed");
    const onEvent = (msg) => {
      let ev;
      try { ev = JSON.parse(msg.data); } catch { return; }
      feed.prepend(feedItem(ev, msg.type));
      while (feed.childElementCount > MAX_FEED) feed.lastElementChild.remove();
    };
    for (const t of st.event_types) stream.addEventListener(t, onEvent);
    stream.onopen = () => { $("conn").textContent = "live"; };
    stream.onerror = () => { $("conn").textContent = "reconnecting…"; };
  }

  async function refresh() {
    try {
      const resp = await fetch("status", { cache: "no-store", credentials: "same-origin" });
      if (resp.status === 401) { location.reload(); return; }
      if (!resp.ok) throw new Error(`${resp.status}`);
      render(await resp.json());
    } catch (e) {
      $("conn").textContent = `cannot read /status (${e.message}); retrying`;
    }
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
})();

/* The flow wall's script: draws the embedded snapshot, then every snapshot the stream
   sends (event "snapshot", the whole wall as JSON), updating the charts in place
   (setOption on the same ECharts instances). Text from the data goes in with
   textContent, never as HTML. No build: plain ES2020. */
(function () {
  "use strict";
  const root = document.getElementById("wall");
  const dataEl = document.getElementById("wall-data");
  const L = JSON.parse(document.getElementById("wall-labels").textContent);
  const live = document.getElementById("wall-live");
  const state = { snapshots: 0, last: null, appliedAt: null, offsetMs: 0 };
  window.tickethubWall = state; // read by the browser tests and the latency bench
  const C = { bg: "#0f1a2e", fg: "#e8eef8", muted: "#8fa3c0", line: "#22324f", ok: "#2ecc71", warn: "#f5b942", bad: "#ff5a4f", accent: "#4db3ff" };
  const PALETTE = ["#4db3ff", "#2ecc71", "#f5b942", "#c084fc", "#ff8a65", "#26c6da", "#ec407a", "#9ccc65"];
  const FONT = '"Noto Sans CJK SC", "WenQuanYi Micro Hei", sans-serif';
  const charts = {};
  const num = (n) => (n === null || n === undefined ? "—" : Number(n).toLocaleString("zh-CN"));
  const yuan = (fen) => (fen / 100).toLocaleString("zh-CN", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  const fmt = (text, vars) => text.replace(/%\((\w+)\)s/g, (_, k) => String(vars[k]));

  function chart(id) {
    if (!charts[id]) {
      const el = document.getElementById(id);
      charts[id] = echarts.init(el, null, { renderer: "canvas" });
    }
    return charts[id];
  }
  const axisText = { color: C.muted, fontSize: 18, fontFamily: FONT };
  const base = {
    animation: false, // a wall redraws often; no half-drawn frame on screen or in a screenshot
    textStyle: { color: C.fg, fontFamily: FONT },
    grid: { left: 60, right: 20, top: 40, bottom: 34 },
  };
  const legend = { top: 0, right: 0, textStyle: { color: C.fg, fontSize: 18 }, itemWidth: 22, itemHeight: 14 };

  function text(id, value) {
    const el = document.getElementById(id);
    if (el && el.textContent !== String(value)) el.textContent = String(value);
  }
  function cell(tr, value, cls) {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = value;
    tr.appendChild(td);
    return td;
  }
  function fill(tbodyOf, rows) {
    const body = document.querySelector(tbodyOf + " tbody");
    body.replaceChildren(...rows);
  }

  function gauge(s) {
    const now = s.in_park.now, max = s.in_park.maximum;
    const top = max || Math.max(100, Math.ceil((now * 1.25) / 100) * 100);
    const level = !max ? C.accent : s.in_park.percent >= 90 ? C.bad : s.in_park.percent >= 70 ? C.warn : C.ok;
    // a thick arc, no needle or small labels: the number above it is what is read
    chart("chart-gauge").setOption({
      ...base,
      series: [{
        type: "gauge", min: 0, max: top, startAngle: 200, endAngle: -20, radius: "118%", center: ["50%", "62%"],
        axisLine: { roundCap: true, lineStyle: { width: 34, color: [[1, "#22324f"]] } },
        progress: { show: true, roundCap: true, width: 34, itemStyle: { color: level } },
        pointer: { show: false }, axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false },
        anchor: { show: false }, title: { show: false },
        detail: { show: false },
        data: [{ value: Math.min(now, top) }],
      }],
    });
    text("in-park-now", num(now));
    text("in-park-max", max ? num(max) : "—");
    text("in-park-percent", max ? `${s.in_park.percent}%` : L.no_maximum);
    document.getElementById("in-park-percent").style.color = level;
    text("entries-today", num(s.in_park.entries));
    text("exits-today", num(s.in_park.exits));
    text("denied-today", num(s.in_park.denied));
    document.getElementById("in-park-now").style.color = level === C.accent || level === C.ok ? "#fff" : level;
  }

  function curve(s) {
    chart("chart-curve").setOption({
      ...base,
      grid: { left: 80, right: 24, top: 24, bottom: 36 },
      xAxis: { type: "category", boundaryGap: false, data: s.curve.map((p) => p.time), axisLabel: axisText, axisLine: { lineStyle: { color: C.line } } },
      yAxis: { type: "value", min: 0, max: s.in_park.maximum || null, axisLabel: axisText, splitLine: { lineStyle: { color: C.line } } },
      series: [{
        name: L.in_park, type: "line", showSymbol: false, smooth: true, data: s.curve.map((p) => p.in_park),
        lineStyle: { width: 4, color: C.accent }, areaStyle: { color: "rgba(77,179,255,0.18)" },
      }],
    }, { replaceMerge: ["series"] });
  }

  /* the last `n` 5-minute buckets up to the snapshot's last one */
  function bucketTimes(s, n) {
    const last = s.curve.length ? s.curve[s.curve.length - 1].minute : null;
    if (last === null) return [];
    const out = [];
    for (let m = Math.max(0, last - (n - 1) * s.bucket_minutes); m <= last; m += s.bucket_minutes) out.push(m);
    return out;
  }
  const hhmm = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;

  function gates(s) {
    const minutes = bucketTimes(s, 24);
    const series = [];
    s.gates.forEach((g, i) => {
      const by = new Map(g.buckets.map((b) => [b.minute, b]));
      const color = PALETTE[i % PALETTE.length];
      series.push({ name: `${g.gate} ${L.entries}`, type: "bar", stack: "in", itemStyle: { color }, data: minutes.map((m) => (by.get(m) || {}).entries || 0) });
      series.push({ name: `${g.gate} ${L.exits}`, type: "bar", stack: "out", itemStyle: { color, opacity: 0.45 }, data: minutes.map((m) => -((by.get(m) || {}).exits || 0)) });
    });
    chart("chart-gates").setOption({
      ...base,
      legend: { ...legend, data: series.filter((x) => x.stack === "in").map((x) => x.name) },
      xAxis: { type: "category", data: minutes.map(hhmm), axisLabel: axisText, axisLine: { lineStyle: { color: C.line } } },
      yAxis: { type: "value", name: `▲${L.entries} ▼${L.exits}`, nameTextStyle: { ...axisText, align: "left" },
        minInterval: 1, axisLabel: { ...axisText, formatter: (v) => String(Math.abs(v)) }, splitLine: { lineStyle: { color: C.line } } },
      series,
    }, { replaceMerge: ["series"] });

    const last = minutes.length ? minutes[minutes.length - 1] : null;
    fill("#gates", s.gates.map((g) => {
      const b = g.buckets.find((x) => x.minute === last) || { entries: 0, exits: 0 };
      const tr = document.createElement("tr");
      tr.dataset.gate = g.gate;
      cell(tr, g.gate);
      cell(tr, num(b.entries), "num bucket-entries");
      cell(tr, num(b.exits), "num bucket-exits");
      cell(tr, num(g.entries), "num");
      cell(tr, num(g.exits), "num");
      return tr;
    }));
  }

  function slots(s) {
    const rows = s.slots.slice().reverse(); // the first slot at the top
    chart("chart-slots").setOption({
      ...base,
      grid: { left: 190, right: 90, top: 34, bottom: 10 },
      legend: { ...legend, data: [L.arrived, L.not_arrived] },
      xAxis: { type: "value", show: false },
      yAxis: { type: "category", data: rows.map((x) => x.slot), axisLabel: { ...axisText, fontSize: 22, color: C.fg }, axisLine: { lineStyle: { color: C.line } } },
      series: [
        { name: L.arrived, type: "bar", stack: "sold", barMaxWidth: 36, itemStyle: { color: C.ok },
          label: { show: true, color: "#04210f", fontSize: 20, formatter: (p) => (p.value ? num(p.value) : "") }, data: rows.map((x) => x.arrived) },
        { name: L.not_arrived, type: "bar", stack: "sold", itemStyle: { color: "#3a4a66" },
          label: { show: true, position: "insideRight", color: C.fg, fontSize: 20, formatter: (p) => (p.value ? num(p.value) : "") }, data: rows.map((x) => x.not_arrived) },
        { name: L.sold, type: "bar", stack: "sold", itemStyle: { color: "transparent" }, tooltip: { show: false },
          label: { show: true, position: "insideLeft", color: C.fg, fontSize: 22, formatter: (p) => `${L.sold} ${num(rows[p.dataIndex].sold)}` },
          data: rows.map(() => 0) },
      ],
    }, { replaceMerge: ["series"] });
  }

  function sales(s) {
    const t = s.sales.totals;
    text("sales-tickets", num(t.tickets));
    text("sales-amount", `¥${yuan(t.amount)}`);
    const rows = s.sales.channels.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.channel = c.channel;
      cell(tr, c.channel);
      cell(tr, num(c.tickets), "num");
      cell(tr, yuan(c.amount), "num");
      cell(tr, c.refunded_tickets ? `${num(c.refunded_tickets)} / ${yuan(c.refunded_amount)}` : "—", "num");
      return tr;
    });
    fill("#sales", rows);
  }

  function tile(id, value, level) {
    text(id, num(value));
    document.getElementById(id).closest(".tile").dataset.level = value > 0 ? level : "ok";
  }
  function status(s) {
    tile("outbox-backlog", s.outbox.pending + s.outbox.inflight, "warn");
    tile("outbox-dead", s.outbox.dead, "bad");
    tile("conflicts", s.conflicts, "bad");
    tile("alerts-open", s.alerts.open, "bad");
    const list = document.getElementById("alert-list");
    list.replaceChildren(...s.alerts.items.slice(0, 3).map((a) => {
      const li = document.createElement("li");
      li.dataset.state = a.state;
      li.textContent = `▲ ${a.rule} ${a.detail || ""}`;
      return li;
    }));
  }

  /* "12 s ago" on the server's clock (the offset taken when the snapshot arrived) */
  function ago(iso) {
    if (!iso) return { text: L.never, seconds: null };
    const seconds = Math.max(0, Math.round((Date.now() - state.offsetMs - Date.parse(iso)) / 1000));
    return { text: seconds < 120 ? fmt(L.seconds_ago, { n: seconds }) : fmt(L.minutes_ago, { n: Math.floor(seconds / 60) }), seconds };
  }
  function onlineText(online) {
    return online === true ? L.online : online === false ? L.offline : L.unknown;
  }
  function devices() {
    const s = state.last;
    if (!s) return;
    const rows = [];
    for (const b of s.bridges) {
      const seen = ago(b.last_seen_at);
      const online = seen.seconds !== null && seen.seconds < 60;
      const tr = document.createElement("tr");
      tr.className = "bridge";
      tr.dataset.online = String(online);
      const name = cell(tr, "");
      const dot = document.createElement("span");
      dot.className = "dot"; dot.dataset.online = String(online);
      name.append(dot, `${L.bridge} ${b.venue_id}`);
      cell(tr, "—"); cell(tr, onlineText(online)); cell(tr, seen.text); cell(tr, "—", "num"); cell(tr, "—");
      rows.push(tr);
    }
    const devs = s.devices.slice();
    devs.sort((a, b) => Number(b.online === false) - Number(a.online === false)); // offline first
    for (const d of devs) {
      const tr = document.createElement("tr");
      tr.dataset.online = String(d.online);
      tr.dataset.device = d.id;
      const name = cell(tr, "");
      const dot = document.createElement("span");
      dot.className = "dot"; dot.dataset.online = String(d.online);
      name.append(dot, d.id);
      cell(tr, d.gate || "—");
      cell(tr, onlineText(d.online)).title = d.last_error || "";
      cell(tr, ago(d.last_seen).text);
      cell(tr, d.event_lag_s === null || d.event_lag_s === undefined ? "—" : `${Number(d.event_lag_s).toFixed(1)} s`, "num");
      cell(tr, d.list_version || "—");
      rows.push(tr);
    }
    fill("#devices", rows);
    const off = devs.filter((d) => d.online === false).length;
    const summary = document.getElementById("devices-summary");
    summary.textContent = devs.length ? fmt(off ? L.devices_offline : L.devices_online, { off, all: devs.length }) : "";
    summary.dataset.level = off ? "bad" : "ok";
  }

  function clock() {
    const s = state.last;
    if (!s) return;
    const at = new Date(Date.now() - state.offsetMs);
    const opts = { timeZone: s.venue.timezone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    text("wall-clock", `${s.day}  ${at.toLocaleTimeString("zh-CN", opts)}`);
  }

  function apply(s) {
    state.offsetMs = Date.now() - Date.parse(s.at);
    state.last = s;
    gauge(s); curve(s); gates(s); slots(s); sales(s); status(s); devices(); clock();
    state.snapshots += 1;
    state.appliedAt = performance.timeOrigin + performance.now();
    root.dataset.seq = String(state.snapshots);
  }

  function listen() {
    const url = root.dataset.stream;
    if (!url) return;
    const source = new EventSource(url);
    source.addEventListener("open", () => { live.dataset.state = "live"; live.title = L.connected; });
    source.addEventListener("snapshot", (e) => apply(JSON.parse(e.data)));
    source.addEventListener("error", () => {
      live.dataset.state = "lost"; live.title = L.reconnecting;
      // closed for good (signed out: the stream answered with the login page): reload
      if (source.readyState === EventSource.CLOSED) setTimeout(() => location.reload(), 10000);
    });
  }

  document.getElementById("fullscreen").addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen();
  });
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  if (dataEl) apply(JSON.parse(dataEl.textContent));
  setInterval(() => { devices(); clock(); }, 5000); // ages move on between snapshots
  listen();
})();

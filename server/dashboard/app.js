/* ckpt dashboard: plain JavaScript, no build step. Reads the sidecar's /v1 API with the token in an
   Authorization header (kept in sessionStorage, never in a URL). Live updates are Server-Sent Events
   read through fetch() streaming, because EventSource cannot send headers; on a dropped connection it
   reconnects, and a stage page sends Last-Event-ID so the server replays what it missed. */
"use strict";
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const view = $("#view");
  const TOKEN_KEY = "ckpt.token";
  let token = sessionStorage.getItem(TOKEN_KEY);

  // ---- formatting (the user's locale) ----
  const lang = navigator.languages?.[0] || navigator.language || "en";
  const nf = new Intl.NumberFormat(lang);
  const nf1 = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
  const pf = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  const cf = new Intl.NumberFormat(lang, { maximumFractionDigits: 4 });
  const tf = new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "medium" });
  const clockFmt = new Intl.DateTimeFormat(lang, { timeStyle: "medium" });
  const num = (n) => (n === null || n === undefined ? "–" : nf.format(n));
  const pct = (r) => (r === null || r === undefined ? "–" : pf.format(r));
  const rate = (r) => (r === null || r === undefined ? "–" : `${nf1.format(r)}/s`);
  const when = (t) => (t === null || t === undefined ? "–" : tf.format(new Date(t)));
  function dur(s) {
    if (s === null || s === undefined) return "–";
    if (s < 1) return "< 1s";
    const d = Math.floor(s / 86400),
      h = Math.floor((s % 86400) / 3600),
      m = Math.floor((s % 3600) / 60),
      sec = Math.floor(s % 60);
    return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : m ? `${m}m ${sec}s` : `${sec}s`;
  }

  // ---- DOM building: text only, so names and messages from the log never become markup ----
  function h(tag, attrs = {}, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid !== null && kid !== undefined && kid !== false) {
        el.append(kid instanceof Node ? kid : String(kid));
      }
    }
    return el;
  }
  const bar = (percent, big) =>
    h("div", {
      class: big ? "bar big" : "bar",
      role: "progressbar",
      "aria-valuemin": 0,
      "aria-valuemax": 100,
      "aria-valuenow": percent === null ? undefined : Math.round(percent),
      "aria-label": "progress",
    }, h("i", { style: `width:${percent === null ? 0 : Math.min(100, percent)}%` }));
  const badge = (status) => h("span", { class: `badge s-${status}` }, status);
  /** Server clock minus ours, and the server's stale threshold: a stage that falls silent sends nothing, so staleness is judged here too. */
  let skew = 0, staleAfterMs = null;
  const isStale = (s) =>
    !!s.progress?.stale ||
    (staleAfterMs !== null && (s.status === "running" || s.status === "recovering") &&
      s.updatedAt !== null && Date.now() + skew - s.updatedAt > staleAfterMs);
  function flags(s) {
    const out = [];
    if (s.status === "recovering") {
      out.push(
        h(
          "span",
          { class: "flag crashed", title: "a crash was detected; the next run resumes" },
          "crashed",
        ),
      );
    }
    if (isStale(s)) {
      out.push(
        h(
          "span",
          { class: "flag", title: "running but silent: its process is probably gone" },
          "stale",
        ),
      );
    }
    return out;
  }
  const stageLink = (name) => h("a", { href: `#/stage/${encodeURIComponent(name)}` }, name);
  const itemLink = (stage, i) =>
    h("a", { href: `#/stage/${encodeURIComponent(stage)}/item/${i}` }, `#${num(i)}`);
  const tile = (label, value, id) =>
    h("div", { class: "tile" }, h("b", id ? { "data-k": id } : {}, value), h("span", {}, label));
  function table(head, rows, numeric = []) {
    return h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          head.map((t, i) =>
            h("th", { class: numeric.includes(i) ? "num" : null, scope: "col" }, t)
          ),
        ),
      ),
      h("tbody", {}, rows),
    );
  }

  let toastTimer;
  function toast(text, kind = "error") {
    const t = $("#toast");
    t.textContent = text;
    t.className = `toast ${kind}`;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (t.hidden = true), 6000);
  }
  const conn = (state, text) => {
    const c = $("#conn");
    c.className = `conn ${state}`;
    c.textContent = text;
  };

  // ---- the API and the token ----
  let asking;
  function askToken(rejected) {
    asking ??= new Promise((resolve) => {
      const d = $("#login");
      $("#login-error").hidden = !rejected;
      $("#login-error").textContent = rejected ? "That token was not accepted." : "";
      $("#token").value = "";
      d.addEventListener("close", function done() {
        d.removeEventListener("close", done);
        const v = $("#token").value.trim();
        if (v) {
          token = v;
          sessionStorage.setItem(TOKEN_KEY, v);
          $("#logout").hidden = false;
        }
        asking = undefined;
        resolve();
      });
      d.showModal();
    });
    return asking;
  }
  const authHeaders = (
    extra = {},
  ) => (token ? { ...extra, authorization: `Bearer ${token}` } : extra);

  async function api(path, init = {}) {
    for (;;) {
      const r = await fetch(path, {
        ...init,
        headers: authHeaders(init.headers),
        cache: "no-store",
      });
      if (r.status === 401) {
        await askToken(token !== null);
        continue;
      }
      if (!r.ok) {
        const body = await r.json().catch(() => null);
        const e = new Error(body?.error?.message ?? `${r.status} ${r.statusText}`);
        e.status = r.status;
        e.code = body?.error?.code;
        throw e;
      }
      return r.status === 204 ? null : r.json();
    }
  }

  /** Server-Sent Events over fetch: headers allowed, reconnects after `retry` ms. */
  function stream(path, { resume = false, onEvent }) {
    let stopped = false, lastId = null, retry = 2000, ctrl, timer;
    async function connect() {
      ctrl = new AbortController();
      const headers = authHeaders({ accept: "text/event-stream" });
      if (resume && lastId !== null) headers["last-event-id"] = lastId;
      try {
        const r = await fetch(path, { headers, signal: ctrl.signal, cache: "no-store" });
        if (r.status === 401) {
          await askToken(token !== null);
          return connect();
        }
        if (!r.ok) throw new Error(`${r.status}`);
        conn("live", "live");
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let event = "message", data = "", id = null;
            for (const line of block.split("\n")) {
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (field === "event") event = val;
              else if (field === "data") data += (data ? "\n" : "") + val;
              else if (field === "id") id = val;
              else if (field === "retry" && /^\d+$/.test(val)) retry = Number(val);
            }
            if (id !== null) lastId = id;
            if (data) onEvent(event, JSON.parse(data));
          }
        }
      } catch (e) {
        if (stopped) return;
      }
      if (stopped) return;
      conn("down", "reconnecting…");
      timer = setTimeout(connect, retry);
    }
    connect();
    return {
      close() {
        stopped = true;
        clearTimeout(timer);
        ctrl?.abort();
      },
    };
  }

  // ---- router ----
  let cleanup = () => {};
  function route() {
    cleanup();
    cleanup = () => {};
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    view.replaceChildren();
    const crumbs = $("#crumbs");
    crumbs.replaceChildren();
    if (parts[0] === "stage" && parts[1]) {
      crumbs.append(h("a", { href: "#/" }, "stages"), " / ", stageLink(parts[1]));
      if (parts[2] === "item" && /^\d+$/.test(parts[3] ?? "")) {
        crumbs.append(` / item ${num(Number(parts[3]))}`);
        cleanup = itemPage(parts[1], Number(parts[3]));
      } else cleanup = stagePage(parts[1]);
    } else {
      crumbs.append("stages");
      cleanup = stagesPage();
    }
  }
  window.addEventListener("hashchange", () => {
    route();
    view.focus();
  });

  // ---- stages page ----
  const rollupKey = (name) => {
    const i = Math.max(name.lastIndexOf(":"), name.lastIndexOf("/"));
    return i > 0 ? name.slice(0, i) : null;
  };
  function stagesPage() {
    const stages = new Map();
    const saved = JSON.parse(sessionStorage.getItem("ckpt.filters") || "{}");
    const prefix = h("input", {
      id: "prefix",
      type: "search",
      placeholder: "filter by prefix  ( / )",
      "aria-label": "Filter by name prefix",
      value: saved.prefix ?? "",
    });
    const status = h(
      "select",
      { id: "status", "aria-label": "Filter by status" },
      ["", "running", "recovering", "paused", "completed", "failed", "initialized"].map((s) =>
        h("option", { value: s, selected: s === (saved.status ?? "") }, s || "any status")
      ),
    );
    const rollup = h("input", { id: "rollup", type: "checkbox", checked: saved.rollup ?? false });
    const compact = h("button", {
      type: "button",
      id: "compact",
      onclick: () => compactDialog(prefix.value),
    }, "Compact…");
    const summary = h("div", { class: "tiles", id: "totals" });
    const body = h("tbody", { id: "stages" });
    view.append(
      h("h1", {}, "Stages"),
      h(
        "div",
        { class: "controls" },
        prefix,
        status,
        h("label", {}, rollup, " roll up by prefix (job:chunk → job)"),
        compact,
      ),
      summary,
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            [
              "Stage",
              "Status",
              "Progress",
              "Done / total",
              "Success",
              "Throughput",
              "ETA",
              "Updated",
            ].map((t, i) => h("th", { scope: "col", class: i > 2 ? "num" : null }, t)),
          ),
        ),
        body,
      ),
      h(
        "p",
        { class: "dim" },
        "Keys: ",
        h("kbd", {}, "/"),
        " filter · ",
        h("kbd", {}, "t"),
        " theme · ",
        h("kbd", {}, "Tab"),
        " moves between stages, ",
        h("kbd", {}, "Enter"),
        " opens one.",
      ),
    );
    let frame = 0;
    const render = () => {
      frame = 0;
      sessionStorage.setItem(
        "ckpt.filters",
        JSON.stringify({ prefix: prefix.value, status: status.value, rollup: rollup.checked }),
      );
      const shown = [...stages.values()]
        .filter((s) =>
          s.stage.startsWith(prefix.value) && (!status.value || s.status === status.value)
        )
        .sort((a, b) => (a.stage < b.stage ? -1 : 1));
      const by = {};
      for (const s of shown) by[s.status] = (by[s.status] ?? 0) + 1;
      const done = shown.reduce((a, s) => a + s.counters.processed, 0);
      summary.replaceChildren(
        tile("stages", num(shown.length)),
        tile("running", num((by.running ?? 0) + (by.recovering ?? 0))),
        tile("completed", num(by.completed ?? 0)),
        tile("failed", num(by.failed ?? 0)),
        tile("items done", num(done)),
      );
      const rows = [];
      const row = (s) =>
        h(
          "tr",
          { "data-stage": s.stage },
          h("td", {}, stageLink(s.stage)),
          h("td", {}, badge(s.status), flags(s)),
          h("td", {}, bar(s.progress.percent)),
          h("td", { class: "num", "data-k": "done" }, `${num(s.progress.done)} / ${num(s.total)}`),
          h("td", { class: "num" }, pct(s.progress.successRate)),
          h("td", { class: "num" }, rate(s.progress.throughput)),
          h("td", { class: "num" }, s.status === "completed" ? "done" : dur(s.progress.etaSeconds)),
          h("td", { class: "num dim" }, when(s.updatedAt)),
        );
      if (!rollup.checked) rows.push(...shown.map(row));
      else {
        const groups = new Map();
        for (const s of shown) {
          const k = rollupKey(s.stage) ?? s.stage;
          if (!groups.has(k)) groups.set(k, []);
          groups.get(k).push(s);
        }
        for (const [k, list] of groups) {
          if (list.length === 1 && list[0].stage === k) {
            rows.push(row(list[0]));
            continue;
          }
          const d = list.reduce((a, s) => a + s.progress.done, 0);
          const known = list.every((s) => s.total !== null);
          const t = known ? list.reduce((a, s) => a + s.total, 0) : null;
          const ok = list.reduce((a, s) => a + s.counters.successful, 0),
            bad = list.reduce((a, s) => a + s.counters.failed, 0);
          const tp = list.reduce(
            (a, s) => a + (s.status === "running" ? s.progress.throughput ?? 0 : 0),
            0,
          );
          const counts = {};
          for (const s of list) counts[s.status] = (counts[s.status] ?? 0) + 1;
          rows.push(
            h(
              "tr",
              { class: "group", "data-group": k },
              h("td", {}, `${k} (${num(list.length)} stages)`),
              h(
                "td",
                {},
                Object.entries(counts).map(([st, n]) =>
                  h("span", { class: `badge s-${st}` }, `${num(n)} ${st}`)
                ),
              ),
              h("td", {}, bar(t ? (d / t) * 100 : null)),
              h("td", { class: "num" }, `${num(d)} / ${num(t)}`),
              h("td", { class: "num" }, ok + bad ? pct(ok / (ok + bad)) : "–"),
              h("td", { class: "num" }, tp ? rate(tp) : "–"),
              h("td", { class: "num" }, t !== null && tp ? dur(Math.max(0, t - d) / tp) : "–"),
              h("td", {}, ""),
            ),
          );
          rows.push(...list.map(row));
        }
      }
      if (!rows.length) {
        rows.push(h(
          "tr",
          {},
          h(
            "td",
            { colspan: 8, class: "dim" },
            stages.size
              ? "No stage matches the filters."
              : "No stages yet: start a pipeline against this store.",
          ),
        ));
      }
      body.replaceChildren(...rows);
    };
    const later = () => (frame ||= requestAnimationFrame(render));
    for (const el of [prefix, status, rollup]) el.addEventListener("input", later);
    const live = stream("/v1/watch", {
      onEvent(type, data) {
        if (type === "stages") {
          skew = data.at - Date.now();
          staleAfterMs = data.staleAfterMs ?? null;
          stages.clear();
          for (const s of data.stages) stages.set(s.stage, s);
        } else if (type === "state") stages.set(data.stage, data);
        else if (type === "deleted") stages.delete(data.stage);
        else if (type === "error") toast(data.error?.message ?? "The live stream failed.");
        later();
      },
    });
    render();
    const tick = setInterval(later, 5000); // stale flags and ages move on without any update arriving
    return () => {
      clearInterval(tick);
      live.close();
    };
  }

  // ---- stage page ----
  function stagePage(name) {
    const path = `/v1/stages/${encodeURIComponent(name)}`;
    const charts = [];
    let head = null,
      first = 0,
      past = null,
      insightAt = 0,
      refreshTimer = 0,
      scrubTimer = 0,
      closed = false;
    const top = h("div", { id: "top" });
    const scrub = h("input", {
      type: "range",
      id: "scrub",
      min: 0,
      max: 0,
      value: 0,
      step: 1,
      "aria-label": "History: revision to show",
    });
    const scrubLabel = h("span", { id: "scrub-label", class: "dim" }, "live");
    const liveBtn = h("button", {
      type: "button",
      id: "live",
      hidden: true,
      onclick: () => goLive(),
    }, "Back to live");
    const timeBox = h("input", {
      type: "datetime-local",
      id: "scrub-time",
      step: 1,
      "aria-label": "History: time to show",
    });
    const itemBox = h("input", {
      id: "item-index",
      type: "number",
      min: 0,
      placeholder: "item index",
      "aria-label": "Item index",
    });
    const reset = h("button", {
      type: "button",
      class: "danger",
      id: "reset",
      onclick: () => resetDialog(name),
    }, "Reset…");
    const chartBox = h(
      "div",
      { class: "charts" },
      h("div", { class: "chart", id: "chart-rate" }),
      h("div", { class: "chart", id: "chart-eta" }),
    );
    const sections = h("div", { id: "sections" });
    view.append(
      h("h1", {}, name, h("span", { id: "status" })),
      h(
        "div",
        { class: "scrub" },
        h("label", { for: "scrub" }, "History"),
        scrub,
        scrubLabel,
        h("label", { for: "scrub-time", class: "dim" }, "or at"),
        timeBox,
        liveBtn,
      ),
      top,
      h(
        "div",
        { class: "controls" },
        h(
          "form",
          {
            onsubmit: (e) => {
              e.preventDefault();
              if (itemBox.value !== "") {
                location.hash = `#/stage/${encodeURIComponent(name)}/item/${Number(itemBox.value)}`;
              }
            },
          },
          itemBox,
          " ",
          h("button", { type: "submit" }, "Item lineage"),
        ),
        reset,
      ),
      h("h2", {}, "Throughput and ETA over time"),
      chartBox,
      sections,
    );

    function renderTop(s, pr, asOf) {
      $("#status").replaceChildren(badge(s.status), ...flags({ status: s.status, progress: pr }));
      const c = s.counters;
      top.replaceChildren(
        asOf
          ? h(
            "p",
            { class: "past", id: "past" },
            `As it was at revision ${num(asOf.revision)} (${when(asOf.at)}), not live.`,
          )
          : "",
        bar(pr.percent, true),
        h(
          "div",
          { class: "tiles" },
          tile("done / total", `${num(pr.done)} / ${num(pr.total)}`, "done"),
          tile("successful", num(c.successful), "ok"),
          tile("failed", num(c.failed), "failed"),
          tile("skipped", num(c.skipped), "skipped"),
          tile("success rate", pct(pr.successRate)),
          tile("throughput", rate(pr.throughput)),
          tile("ETA", s.status === "completed" ? "done" : dur(pr.etaSeconds)),
          tile("cost (all runs)", cf.format(s.cost), "cost"),
          tile("runs", num(s.runs)),
          tile("revision", num(s.revision), "revision"),
        ),
      );
    }

    function renderSections(s, history, insight) {
      const out = [];
      out.push(h("h2", {}, `Runs (${num(history.runs.length)})`));
      let total = 0;
      out.push(
        table(
          [
            "Run",
            "Started",
            "Took",
            "Outcome",
            "Who / where",
            "Done",
            "OK",
            "Failed",
            "Skipped",
            "Cost",
            "Cost so far",
          ],
          history.runs.map((r) => {
            total += r.cost;
            const o = insight.owners[r.runId];
            return h(
              "tr",
              {},
              h("td", {}, r.runId.slice(0, 8)),
              h("td", {}, when(r.startedAt)),
              h(
                "td",
                { class: "num" },
                r.endedAt === null ? "–" : dur((r.endedAt - r.startedAt) / 1000),
              ),
              h(
                "td",
                {},
                h("span", {
                  class: `badge s-${
                    r.outcome === "completed"
                      ? "completed"
                      : r.outcome === "failed" || r.outcome === "crashed"
                      ? "failed"
                      : "running"
                  }`,
                }, r.outcome),
                r.recovered ? " (recovered)" : "",
              ),
              h("td", {}, o ? `${o.host} · pid ${o.pid}` : "–"),
              h("td", { class: "num" }, num(r.processed)),
              h("td", { class: "num" }, num(r.successful)),
              h("td", { class: "num" }, num(r.failed)),
              h("td", { class: "num" }, num(r.skipped)),
              h("td", { class: "num" }, cf.format(r.cost)),
              h("td", { class: "num" }, cf.format(total)),
            );
          }),
          [2, 5, 6, 7, 8, 9, 10],
        ),
      );
      if (history.compactedEvents) {
        out.push(
          h(
            "p",
            { class: "dim" },
            `${
              num(history.compactedEvents)
            } older events were compacted; their runs are summarised above.`,
          ),
        );
      }
      out.push(h("h2", {}, "Timeline"));
      out.push(
        table(
          ["Time", "Event", "Run", "Who / where", "Detail", "Revision"],
          insight.timeline.slice().reverse().map((t) =>
            h(
              "tr",
              {},
              h("td", {}, when(t.at)),
              h("td", {}, t.type),
              h("td", {}, t.runId ? t.runId.slice(0, 8) : "–"),
              h("td", {}, t.host ? `${t.host} · pid ${t.pid}` : "–"),
              h("td", {}, t.detail ?? ""),
              h("td", { class: "num" }, num(t.revision)),
            )
          ),
          [5],
        ),
      );
      out.push(h("h2", {}, `Errors by message (${num(s.errors.count)} in all)`));
      out.push(
        insight.errors.length
          ? table(
            ["Message", "Count", "Retryable", "Last seen", "Items"],
            insight.errors.map((g) =>
              h(
                "tr",
                {},
                h("td", { class: "error" }, g.message),
                h("td", { class: "num" }, num(g.count)),
                h("td", {}, g.retryable ? "yes" : "no"),
                h("td", {}, when(g.lastAt)),
                h("td", {}, g.indices.map((i) => [itemLink(name, i), " "])),
              )
            ),
            [1],
          )
          : h("p", { class: "dim" }, "No errors."),
      );
      const units = Object.entries(s.units).sort(([a], [b]) => (a < b ? -1 : 1));
      if (units.length) {
        out.push(h("h2", {}, `Units (${num(units.length)})`));
        out.push(
          h(
            "div",
            { class: "units", id: "units" },
            units.map(([k, u]) =>
              h(
                "div",
                {
                  class: `unit ${u.status}`,
                  title: u.error ? `${u.error}${u.retryable ? " (retryable)" : ""}` : u.status,
                },
                h("b", {}, k),
                h("br"),
                `${u.status} · page ${u.page ?? "–"} · ${num(u.records)} records`,
                u.error ? h("div", { class: "error" }, u.error) : "",
              )
            ),
          ),
        );
      }
      sections.replaceChildren(...out);
    }

    function renderCharts(insight) {
      if (typeof uPlot !== "function") return;
      const xs = insight.series.map((p) => p.at / 1000);
      const css = getComputedStyle(document.documentElement);
      const color = (v) => css.getPropertyValue(v).trim();
      const specs = [
        [
          "chart-rate",
          "Throughput (items/s)",
          insight.series.map((p) => p.rate),
          color("--bar"),
          (v) => nf1.format(v),
        ],
        [
          "chart-eta",
          "ETA (seconds left)",
          insight.series.map((p) => p.etaSeconds),
          color("--warn"),
          (v) => dur(v),
        ],
      ];
      charts.splice(0).forEach((c) => c.destroy());
      for (const [id, title, ys, stroke, fmt] of specs) {
        const el = $(`#${id}`);
        el.replaceChildren();
        if (xs.length < 2) {
          el.append(h("p", { class: "dim" }, `${title}: not enough progress yet.`));
          continue;
        }
        const axis = {
          stroke: color("--dim"),
          grid: { stroke: color("--line") },
          ticks: { stroke: color("--line") },
        };
        const clock = (v) => (v === null ? "–" : clockFmt.format(new Date(v * 1000)));
        charts.push(
          new uPlot(
            {
              title,
              width: Math.max(300, el.clientWidth - 16),
              height: 200,
              series: [{ label: "time", value: (_, v) => clock(v) }, {
                label: title,
                stroke,
                width: 2,
                value: (_, v) => (v === null ? "–" : fmt(v)),
                spanGaps: true,
              }],
              axes: [{
                ...axis,
                values: (_, vals) => vals.map(clock),
              }, {
                ...axis,
                size: 60,
                values: (_, vals) => vals.map((v) => fmt(v)),
              }],
            },
            [xs, ys],
            el,
          ),
        );
      }
    }

    async function refresh(full) {
      try {
        const s = await api(path);
        if (closed) return;
        head = s.revision;
        scrub.max = String(head);
        if (past === null) {
          scrub.value = String(head);
          renderTop(s, s.progress, null);
        }
        if (full || Date.now() - insightAt > 3000) {
          insightAt = Date.now();
          const [history, insight] = await Promise.all([
            api(`${path}/history`),
            api(`${path}/insight`),
          ]);
          if (closed) return;
          first = insight.firstRevision;
          scrub.min = String(first);
          renderSections(s, history, insight);
          renderCharts(insight);
        }
        if (past === null) scrubLabel.textContent = `revision ${num(head)} (live)`;
      } catch (e) {
        if (e.status === 404) {
          view.replaceChildren(
            h("h1", {}, name),
            h("p", { class: "error" }, e.message),
            h("a", { href: "#/" }, "Back to the stages"),
          );
        } else toast(e.message);
      }
    }
    const soon = () => (refreshTimer ||= setTimeout(() => {
      refreshTimer = 0;
      refresh(false);
    }, 300));

    async function showAt(rev, time) {
      try {
        const at = await api(
          `${path}/at?${time === undefined ? `revision=${rev}` : `time=${time}`}`,
        );
        if (closed || past === null) return;
        scrub.value = String(at.revision);
        scrubLabel.textContent = `revision ${num(at.revision)} · ${when(at.at)}`;
        renderTop(at.state, at.progress, at);
      } catch (e) {
        toast(e.message);
      }
    }
    timeBox.addEventListener("change", () => {
      const t = timeBox.valueAsNumber; // datetime-local is local time; valueAsNumber reads it as UTC
      if (Number.isNaN(t)) return;
      past = -1;
      liveBtn.hidden = false;
      showAt(undefined, t + new Date(t).getTimezoneOffset() * 60_000);
    });
    function goLive() {
      past = null;
      timeBox.value = "";
      liveBtn.hidden = true;
      refresh(false);
    }
    scrub.addEventListener("input", () => {
      const rev = Number(scrub.value);
      if (head !== null && rev >= head) return goLive();
      past = rev;
      liveBtn.hidden = false;
      scrubLabel.textContent = `revision ${num(rev)}…`;
      clearTimeout(scrubTimer);
      scrubTimer = setTimeout(() => showAt(rev), 120);
    });

    const live = stream(`${path}/watch`, {
      resume: true,
      onEvent(type, data) {
        if (type === "state") {
          head = data.revision;
          scrub.max = String(head);
          if (past === null) {
            scrub.value = String(head);
            scrubLabel.textContent = `revision ${num(head)} (live)`;
          }
          soon();
        } else if (type === "deleted") toast(`Stage ${name} was deleted.`);
      },
    });
    refresh(true);
    const tick = setInterval(() => past === null && soon(), 10_000); // a silent stage turns stale with no event to say so
    const onResize = () => soon();
    window.addEventListener("resize", onResize);
    return () => {
      closed = true;
      live.close();
      clearInterval(tick);
      clearTimeout(refreshTimer);
      window.removeEventListener("resize", onResize);
      charts.forEach((c) => c.destroy());
    };
  }

  // ---- item lineage page ----
  function itemPage(name, index) {
    let closed = false;
    view.append(
      h("h1", {}, `${name} · item ${num(index)}`),
      h("p", { class: "dim" }, "Every stored event that touched this item, oldest first."),
    );
    api(`/v1/stages/${encodeURIComponent(name)}/items/${index}`).then((l) => {
      if (closed) return;
      view.append(
        h(
          "div",
          { class: "tiles", id: "lineage-summary" },
          tile("now", l.done ? `done: ${l.outcome ?? "counted"}` : "open (not done)", "now"),
          tile("attempts", num(l.attempts), "attempts"),
          tile("errors", num(l.errors)),
          tile("cost", cf.format(l.cost)),
        ),
        l.firstRevision > 0
          ? h(
            "p",
            { class: "dim" },
            `Events before revision ${
              num(l.firstRevision)
            } were compacted; what they did to this item is no longer stored.`,
          )
          : "",
        l.entries.length
          ? table(
            [
              "Revision",
              "Time",
              "Event",
              "Effect",
              "Outcome",
              "Error",
              "Retryable",
              "Cost",
              "Run",
              "Worker",
            ],
            l.entries.map((e) =>
              h(
                "tr",
                { "data-effect": e.effect },
                h("td", { class: "num" }, num(e.revision)),
                h("td", {}, when(e.at)),
                h("td", {}, e.type),
                h("td", {}, e.effect),
                h("td", {
                  class: e.outcome === "ok" ? "ok" : e.outcome === "failed" ? "error" : null,
                }, e.outcome ?? "–"),
                h("td", { class: "error" }, e.error ?? e.reason ?? ""),
                h("td", {}, e.retryable === null ? "–" : e.retryable ? "yes" : "no"),
                h("td", { class: "num" }, e.cost === null ? "–" : cf.format(e.cost)),
                h("td", {}, e.runId ? e.runId.slice(0, 8) : "–"),
                h("td", {}, e.host ? `${e.host} · pid ${e.pid}` : "–"),
              )
            ),
            [0, 7],
          )
          : h(
            "p",
            { id: "no-lineage" },
            "No stored event touched this item: it was never attempted (or its events were compacted).",
          ),
      );
    }, (e) => view.append(h("p", { class: "error" }, e.message)));
    return () => (closed = true);
  }

  // ---- admin actions (need the admin role; the server says 403 otherwise) ----
  function confirmDialog(title, text, keep) {
    const d = $("#confirm");
    $("#confirm-title").textContent = title;
    $("#confirm-text").textContent = text;
    $("#confirm-extra").hidden = !keep;
    d.returnValue = "";
    return new Promise((resolve) => {
      d.addEventListener("close", function done() {
        d.removeEventListener("close", done);
        resolve(d.returnValue === "ok");
      });
      d.showModal();
      $("#confirm-ok").focus();
    });
  }
  async function resetDialog(name) {
    if (
      !(await confirmDialog(
        `Reset ${name}?`,
        "The stage starts over: its state and resume point are emptied (the history keeps what happened). Its workers must be stopped.",
        false,
      ))
    ) return;
    try {
      await api(`/v1/stages/${encodeURIComponent(name)}/reset`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ reason: "reset from the dashboard" }),
      });
      toast(`${name} was reset.`, "info");
    } catch (e) {
      toast(e.message);
    }
  }
  async function compactDialog(prefix) {
    const which = prefix ? `stages whose names start with "${prefix}"` : "every stage";
    if (
      !(await confirmDialog(
        "Compact?",
        `Older events of ${which} are folded into a base snapshot and removed; running stages are skipped.`,
        true,
      ))
    ) return;
    try {
      const body = {
        maxEvents: Number($("#confirm-keep").value || 1000),
        ...(prefix ? { prefix } : {}),
      };
      const r = await api("/v1/compact", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      toast(`Compacted: ${num(r.eventsRemoved ?? 0)} events removed.`, "info");
    } catch (e) {
      toast(e.message);
    }
  }

  // ---- theme and keys ----
  const setTheme = (t) => {
    document.documentElement.dataset.theme = t;
    localStorage.setItem("ckpt.theme", t);
  };
  setTheme(
    localStorage.getItem("ckpt.theme") ||
      (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"),
  );
  $("#theme").addEventListener("click", () => {
    setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
    route();
  });
  $("#logout").hidden = !token;
  $("#logout").addEventListener("click", () => {
    sessionStorage.removeItem(TOKEN_KEY);
    token = null;
    $("#logout").hidden = true;
    route();
  });
  document.addEventListener("keydown", (e) => {
    if (
      e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.ctrlKey ||
      e.metaKey || e.altKey
    ) return;
    if (e.key === "/" && $("#prefix")) {
      e.preventDefault();
      $("#prefix").focus();
    } else if (e.key === "t") $("#theme").click();
  });
  route();
})();

/* q2c ops dashboard: vanilla JS over the ops JSON API (bearer token in sessionStorage). */
(function () {
  "use strict";
  const KEY = "q2c.ops.token";
  const $ = (s) => document.querySelector(s);
  const esc = (v) => String(v == null ? "" : v).replace(/[&<>"']/g, (c) =>
    ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  const badge = (cls, text) => `<span class="badge ${esc(cls)}">${esc(text)}</span>`;
  const time = (iso) => (iso || "").replace("T", " ").replace(/\.(\d{3})\d*Z$/, ".$1");
  let current = "transactions";
  let pollTimer = null;

  // ---- token ------------------------------------------------------------------------------------------------------
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname + location.search + location.hash.replace(/&?token=[^&]+/, ""));
  }
  const token = () => sessionStorage.getItem(KEY);

  class ApiError extends Error { constructor(status, detail) { super(typeof detail === "string" ? detail : JSON.stringify(detail)); this.status = status; } }

  async function api(path, opts) {
    opts = opts || {};
    const headers = { Authorization: "Bearer " + token() };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(path, { method: opts.method || "GET", headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
    if (r.status === 401) { showLogin("token refused by the ops API"); throw new ApiError(401, "unauthorized"); }
    const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
    if (!r.ok) throw new ApiError(r.status, body && body.detail !== undefined ? body.detail : body);
    return body;
  }

  function showLogin(error) {
    $("#app").hidden = true; $("#login").hidden = false;
    $("#login-error").textContent = error || "";
    stopPolling();
  }
  function showApp() { $("#login").hidden = true; $("#app").hidden = false; show(current); }

  $("#login-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY, $("#token-input").value.trim());
    showApp();
  });
  $("#logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); showLogin(); });

  // ---- views ------------------------------------------------------------------------------------------------------
  const loaders = { transactions: loadTransactions, trace: loadTrace, exceptions: loadExceptions, kpis: loadKpis,
                    simulators: loadSimulators, search: loadSearch };
  // deep links: #view=<name>, #trace=<correlation id>, #q=<any id> (a bookmark or a link from a ticket)
  function link(view) {
    const arg = view === "trace" ? $("#trace-cid").value.trim() : view === "search" ? $("#search-q").value.trim() : "";
    const hash = arg ? `#${view === "trace" ? "trace" : "q"}=${encodeURIComponent(arg)}` : `#view=${view}`;
    if (location.hash !== hash) history.replaceState(null, "", location.pathname + location.search + hash);
  }
  function fromLink() {
    const h = new URLSearchParams(location.hash.slice(1));
    if (h.get("trace")) { $("#trace-cid").value = h.get("trace"); current = "trace"; }
    else if (h.get("q")) { $("#search-q").value = h.get("q"); current = "search"; }
    else if (h.get("view") && loaders[h.get("view")]) current = h.get("view");
  }
  fromLink();
  function show(view) {
    current = view;
    link(view);
    document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b.dataset.view === view));
    document.querySelectorAll(".view").forEach((s) => { s.hidden = s.id !== "view-" + view; });
    stopPolling();
    run(loaders[view]);
    if (view === "transactions" && $("#tx-live").checked) pollTimer = setInterval(() => run(loadTransactions), 3000);
    if (view === "exceptions") pollTimer = setInterval(() => run(loadExceptionCount), 5000);
  }
  function stopPolling() { if (pollTimer) clearInterval(pollTimer); pollTimer = null; }
  async function run(fn) {
    try { $("#status").textContent = ""; await fn(); }
    catch (e) { if (e.status !== 401) $("#status").textContent = "error: " + e.message; }
  }
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => show(b.dataset.view)));

  // ---- transactions (live) ----------------------------------------------------------------------------------------
  async function loadTransactions() {
    const status = $("#tx-status").value;
    const rows = await api("/transactions?limit=100" + (status ? "&status=" + encodeURIComponent(status) : ""));
    $("#tx-body").innerHTML = rows.map((t) => `<tr class="clickable" data-cid="${esc(t.correlation_id)}">
      <td class="mono">${esc(time(t.received_at))}</td><td class="mono">${esc(t.inbox_key)}</td>
      <td>${esc(t.workflow_name)}</td><td>${badge("s-" + t.status, t.status)}</td><td>${esc(t.attempts)}</td>
      <td><a class="cid mono">${esc(t.correlation_id)}</a></td></tr>`).join("") ||
      `<tr><td colspan="6" class="muted">no transactions yet</td></tr>`;
    $("#tx-updated").textContent = "updated " + new Date().toLocaleTimeString();
    loadExceptionCount();
  }
  $("#tx-body").addEventListener("click", (e) => { const tr = e.target.closest("tr[data-cid]"); if (tr) openTrace(tr.dataset.cid); });
  $("#tx-status").addEventListener("change", () => run(loadTransactions));
  $("#tx-live").addEventListener("change", () => show("transactions"));

  async function loadExceptionCount() {
    const open = await api("/exceptions?status=open&limit=1000");
    $("#exc-count").textContent = open.length ? String(open.length) : "";
  }

  // ---- trace ------------------------------------------------------------------------------------------------------
  function openTrace(cid) { $("#trace-cid").value = cid; show("trace"); }

  // ---- search -----------------------------------------------------------------------------------------------------
  async function loadSearch() {
    const q = $("#search-q").value.trim();
    if (!q) return;
    const hits = await api("/search?q=" + encodeURIComponent(q));
    $("#search-body").innerHTML = hits.map((h) => {
      const details = [h.canonical_id && `canonical ${h.canonical_id}`, h.number && `number ${h.number}`,
        h.amount && `${h.amount} ${h.currency || ""}`, h.engagement_id, h.status, h.code, h.owner && `owner ${h.owner}`]
        .filter(Boolean).map(esc).join(" · ");
      const traces = h.correlation_ids.map((c) => `<a class="cid mono" data-cid="${esc(c)}">${esc(c.slice(0, 14))}</a>`).join(" ");
      return `<tr class="${h.matched === false ? "muted" : ""}"><td>${esc(h.kind)}</td><td>${esc(h.system)}</td><td>${esc(h.object)}</td>
        <td class="mono">${esc(h.id)}</td><td>${details}</td><td>${traces}</td></tr>`;
    }).join("") || `<tr><td colspan="6" class="muted">nothing known by that id</td></tr>`;
  }
  $("#search-form").addEventListener("submit", (e) => { e.preventDefault(); show("search"); });
  $("#search-body").addEventListener("click", (e) => { const a = e.target.closest("a[data-cid]"); if (a) openTrace(a.dataset.cid); });
  $("#trace-form").addEventListener("submit", (e) => { e.preventDefault(); run(loadTrace); });

  async function loadTrace() {
    const cid = $("#trace-cid").value.trim();
    if (!cid) return;
    link("trace");
    let t;
    try { t = await api(`/transactions/${encodeURIComponent(cid)}/trace?linked=${$("#trace-linked").checked}`); }
    catch (e) { if (e.status === 404) { $("#trace-view").innerHTML = `<p class="muted">nothing recorded under ${esc(cid)}</p>`; return; } throw e; }
    const all = ["proposal line", "project task", "time entries", "billing event", "invoice line", "payment"];
    const counts = {};
    t.entries.forEach((x) => { counts[x.stage] = (counts[x.stage] || 0) + 1; });
    const stages = all.concat(counts.other ? ["other"] : []).map((s) =>
      `<span class="stage ${counts[s] ? "on" : ""}">${esc(s)}<span class="n">${counts[s] || 0}</span></span>`).join("");
    const runs = t.runs.map((r) => `${badge("s-" + r.status, r.status)} <code>${esc(r.inbox_key)}</code>
      <a class="cid mono" data-cid="${esc(r.correlation_id)}">${esc(r.correlation_id)}</a>`).join("<br>");
    const lanes = t.groups;
    let html = `<div class="stages" id="trace-stages">${stages}</div><div class="runs">${runs}</div>
      <div class="trace" id="trace-grid"><div class="h">time</div><div class="h">stage</div>` +
      lanes.map((g) => `<div class="h g-${esc(g)}">${esc(g)}</div>`).join("");
    let lastCid = null;
    t.entries.forEach((x) => {
      if (x.correlation_id !== lastCid) {
        html += `<div class="sep">${esc(x.workflow_name || "run")} <span class="mono muted">${esc(x.correlation_id)}</span></div>`;
        lastCid = x.correlation_id;
      }
      html += `<div class="c mono">${esc(time(x.at).slice(11))}</div><div class="c stage-cell">${esc(x.stage)}</div>`;
      lanes.forEach((g) => {
        html += g === x.group
          ? `<div class="c lane"><div class="entry trace-row g-${esc(g)}" data-kind="${esc(x.kind)}" data-group="${esc(g)}">
             ${badge("k-" + x.kind, x.kind)} ${esc(x.summary)}</div></div>`
          : `<div class="c lane"></div>`;
      });
    });
    $("#trace-view").innerHTML = html + "</div>";
  }
  $("#trace-view").addEventListener("click", (e) => { const a = e.target.closest("a[data-cid]"); if (a) openTrace(a.dataset.cid); });

  // ---- exception queue --------------------------------------------------------------------------------------------
  function age(seconds) {
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min`;
    if (seconds < 172800) return `${Math.floor(seconds / 3600)} h`;
    return `${Math.floor(seconds / 86400)} d`;
  }
  async function loadExceptions() {
    api("/me").then((me) => { $("#exc-actor").textContent = me.actor; }).catch(() => {});
    const q = new URLSearchParams({ limit: "200" });
    if ($("#exc-lot").value) q.set("lot", $("#exc-lot").value);
    if ($("#exc-status").value) q.set("status", $("#exc-status").value);
    const items = await api("/exceptions?" + q);
    $("#exc-body").innerHTML = items.map((i) => {
      const closed = i.status === "resolved" || i.status === "ignored";
      return `<tr data-id="${i.id}"><td><input type="checkbox" class="exc-pick" value="${i.id}" ${closed ? "disabled" : ""}></td>
      <td>${i.id}</td><td>${esc(i.lot)}</td><td>${badge("s-" + i.status, i.status)}</td><td class="mono">${esc(i.code || i.error_class)}</td>
      <td>${esc(i.message)}</td><td>${esc(i.system)}</td><td>${esc(i.owner || "unassigned")}</td><td>${age(i.age_seconds)}</td>
      <td>${closed ? "" : i.overdue ? badge("s-overdue", "overdue") : esc(time(i.due_at).slice(0, 16))}</td><td>${i.occurrences}</td>
      <td><a class="cid mono" data-cid="${esc(i.correlation_id)}">${esc((i.correlation_id || "").slice(0, 14))}</a></td>
      <td class="actions">${closed ? "" : `<button data-act="assign">assign</button><button data-act="retry">retry</button><button data-act="resolve">resolve</button><button data-act="ignore">ignore</button>`}</td></tr>`;
    }).join("") || `<tr><td colspan="13" class="muted">no items</td></tr>`;
    loadExceptionCount();
  }
  // who acts is the signed-in token's identity (GET /me); the inputs say whom to assign and why
  function inputs() {
    const body = {};
    const owner = $("#exc-owner").value.trim(), reason = $("#exc-reason").value.trim();
    if (owner) body.owner = owner;
    if (reason) body.reason = reason;
    return body;
  }
  function say(text, ok) { const m = $("#exc-msg"); m.textContent = text; m.className = "msg " + (ok ? "" : "error"); }
  async function act(fn) {
    try { say(await fn(), true); } catch (e) { say(e.message, false); }
    await run(loadExceptions);
  }
  $("#exc-body").addEventListener("click", (e) => {
    const a = e.target.closest("a[data-cid]"); if (a) { openTrace(a.dataset.cid); return; }
    const b = e.target.closest("button[data-act]"); if (!b) return;
    const id = b.closest("tr").dataset.id, action = b.dataset.act;
    act(async () => {
      const body = inputs();
      if (action === "assign" && !body.owner) { $("#exc-owner").focus(); throw new ApiError(0, "enter whom to assign it to"); }
      if ((action === "resolve" || action === "ignore") && !body.reason) throw new ApiError(0, "a reason is required to " + action);
      if (action === "retry") delete body.owner;
      const item = await api(`/exceptions/${id}/${action}`, { method: "POST", body });
      return action === "assign" ? `#${id} assigned to ${item.owner}` : `#${id} ${action}: now ${item.status}`;
    });
  });
  $("#bulk-selected").addEventListener("click", () => act(async () => {
    const ids = [...document.querySelectorAll(".exc-pick:checked")].map((c) => Number(c.value));
    if (!ids.length) throw new ApiError(0, "select items first");
    const { reason } = inputs();
    const r = await api("/exceptions/replay", { method: "POST", body: reason ? { reason, ids } : { ids } });
    return `replayed ${r.attempted}, resolved ${r.resolved}`;
  }));
  $("#bulk-lot").addEventListener("click", () => act(async () => {
    const { reason } = inputs();
    const lot = $("#bulk-lot-name").value;
    const r = await api("/exceptions/replay", { method: "POST", body: reason ? { reason, lot } : { lot } });
    return `replayed ${r.attempted} (${lot}), resolved ${r.resolved}`;
  }));
  $("#exc-all").addEventListener("change", (e) => document.querySelectorAll(".exc-pick:not(:disabled)").forEach((c) => { c.checked = e.target.checked; }));
  $("#exc-lot").addEventListener("change", () => run(loadExceptions));
  $("#exc-status").addEventListener("change", () => run(loadExceptions));

  // ---- KPIs -------------------------------------------------------------------------------------------------------
  const dur = (s) => s == null ? "–" : s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : s < 172800 ? `${(s / 3600).toFixed(1)} h` : `${(s / 86400).toFixed(1)} d`;
  const pct = (r) => r == null ? "–" : `${(r * 100).toFixed(1)} %`;
  const SERIES = [
    ["activation_seconds_p50", "Quote → project activation (p50)", dur],
    ["billing_cycle_latency_seconds_p50", "Billing cycle latency (p50)", dur],
    ["invoice_exception_rate", "Invoice exception rate", pct],
    ["unbilled_backlog_items", "Unbilled backlog (items)", (v) => v == null ? "–" : String(v)],
    ["cash_application_lag_seconds_p50", "Cash application lag (p50)", dur],
  ];
  async function loadKpis() {
    const [k, h] = await Promise.all([api("/kpis"), api("/kpis/history?bucket=" + $("#kpi-bucket").value + "&limit=48")]);
    const amounts = Object.entries(k.unbilled_backlog.amount_by_currency).map(([c, a]) => `${esc(a)} ${esc(c)}`).join(", ");
    $("#kpi-cards").innerHTML = [
      ["Activation p50 / p90", `${dur(k.quote_to_project_activation_seconds.p50)} / ${dur(k.quote_to_project_activation_seconds.p90)}`, `${k.quote_to_project_activation_seconds.count} projects`],
      ["Billing cycle latency p50", dur(k.billing_cycle_latency_seconds.p50), `${k.billing_cycle_latency_seconds.count} items billed`],
      ["Invoice exception rate", pct(k.invoice_exception_rate.rate), `${k.invoice_exception_rate.exceptions} of ${k.invoice_exception_rate.posted + k.invoice_exception_rate.exceptions}`],
      ["Unbilled backlog", String(k.unbilled_backlog.items), amounts || "no amount"],
      ["Cash application lag p50", dur(k.cash_application_lag_seconds.p50), `${k.cash_application_lag_seconds.unapplied} unapplied`],
    ].map(([t, v, s]) => `<div class="card kpi"><h3>${esc(t)}</h3><div class="big">${esc(v)}</div><div class="muted">${s}</div></div>`).join("");
    $("#kpi-charts").innerHTML = SERIES.map(([key, title, fmt]) =>
      `<div class="chart" data-series="${key}"><h3>${esc(title)}</h3>${lineChart(h.points, key, fmt)}</div>`).join("");
  }
  $("#kpi-bucket").addEventListener("change", () => run(loadKpis));

  function lineChart(points, key, fmt) {
    const W = 360, H = 160, L = 56, R = 8, T = 8, B = 22;
    const pts = points.map((p, i) => [i, p[key]]).filter((p) => p[1] != null);
    if (!pts.length) return `<svg viewBox="0 0 ${W} ${H}" role="img"><text x="${W / 2}" y="${H / 2}" text-anchor="middle">no data yet</text></svg>`;
    const n = Math.max(points.length - 1, 1);
    const max = Math.max(...pts.map((p) => p[1])), min = Math.min(0, ...pts.map((p) => p[1]));
    const span = max - min || 1;
    const x = (i) => L + (W - L - R) * (points.length === 1 ? 0.5 : i / n);
    const y = (v) => T + (H - T - B) * (1 - (v - min) / span);
    const d = pts.map((p, j) => `${j ? "L" : "M"}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join("");
    const first = points[0].start.slice(5, 16).replace("T", " "), last = points[points.length - 1].end.slice(5, 16).replace("T", " ");
    return `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="chart">
      <line class="axis" x1="${L}" y1="${T}" x2="${L}" y2="${H - B}"/><line class="axis" x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}"/>
      <text x="${L - 4}" y="${y(max) + 3}" text-anchor="end">${esc(fmt(max))}</text>
      <text x="${L - 4}" y="${y(min) + 3}" text-anchor="end">${esc(fmt(min))}</text>
      <text x="${L}" y="${H - 6}">${esc(first)}</text><text x="${W - R}" y="${H - 6}" text-anchor="end">${esc(last)}</text>
      <path class="line" d="${d}"/>${pts.map((p) => `<circle class="dot" cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="2.5"><title>${esc(fmt(p[1]))}</title></circle>`).join("")}</svg>`;
  }

  // ---- simulators -------------------------------------------------------------------------------------------------
  async function loadSimulators() {
    const sims = await api("/simulators");
    $("#sim-list").innerHTML = sims.map((s) => {
      const row = (who, q) => {
        const used = q.used || 0, limit = q.limit || 0, share = limit ? Math.min(1, used / limit) : 0;
        return `<tr data-tenant="${esc(who)}" data-quota="${esc(q.name)}"><td>${esc(who)}</td><td>${esc(q.name)}</td><td>${esc(q.kind)}</td><td>${esc(used)} / ${esc(limit)}</td>
          <td><span class="bar ${share > 0.8 ? "hot" : ""}"><span style="width:${(share * 100).toFixed(0)}%"></span></span></td></tr>`;
      };
      // each tenant's use of its own quotas, then the global ones (shared by every tenant)
      const quotas = [...(s.tenants || []).flatMap((t) => t.quotas.map((q) => row(t.tenant, q))),
                      ...s.quotas.filter((q) => q.scope === "global").map((q) => row("all tenants", q))].join("")
        || `<tr><td colspan="5" class="muted">no quotas</td></tr>`;
      const faults = s.faults.map((f) => `<li><code>${esc(f.id)}</code> ${esc(f.kind)} ${esc(f.status || "")} ${esc(f.method || "")} ${esc(f.path || f.operation || "")}
        <span class="muted">matched ${esc(f.matched)}, injected ${esc(f.injected)}</span></li>`).join("") || `<li class="muted">no active faults</li>`;
      return `<div class="card sim" data-sim="${esc(s.name)}"><h3>${esc(s.name)} ${badge(s.ok ? "s-done" : "s-failed", s.ok ? "up" : "down")}</h3>
        <div class="muted mono">${esc(s.base_url)}${s.error ? " — " + esc(s.error) : ""}</div>
        <table class="grid"><thead><tr><th>tenant</th><th>quota</th><th>kind</th><th>used</th><th></th></tr></thead><tbody>${quotas}</tbody></table>
        <p><strong>Faults</strong> <span class="muted">seed ${esc(s.seed)}</span></p><ul class="faults">${faults}</ul></div>`;
    }).join("") || `<p class="muted">no simulators configured (Q2C_OPS_SIMULATORS)</p>`;
  }

  if (token()) showApp(); else showLogin();
})();

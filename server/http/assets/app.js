// batchd dashboard: plain JavaScript, no framework, no build step, nothing loaded from elsewhere.
// Talks to the daemon's JSON API (/v1/..., gRPC-JSON transcoding of batchd.v1) on this origin.
// Runs on the page's one thread; each view owns its timers and fetches and stops them on leave.
// Test hooks: window.batchdDashboard (see `hooks` below), ids and data-* attributes in the DOM.
'use strict';

(() => {
  const TASK_STATES = ['TASK_STATE_PENDING', 'TASK_STATE_RUNNING', 'TASK_STATE_RETRY_WAIT',
    'TASK_STATE_SUCCEEDED', 'TASK_STATE_FAILED', 'TASK_STATE_TIMED_OUT', 'TASK_STATE_SKIPPED',
    'TASK_STATE_CANCELLED'];
  const FINAL_TASK_STATES = new Set(['TASK_STATE_SUCCEEDED', 'TASK_STATE_FAILED',
    'TASK_STATE_TIMED_OUT', 'TASK_STATE_SKIPPED', 'TASK_STATE_CANCELLED']);
  const FINAL_BATCH_STATES = new Set(['BATCH_STATE_SUCCEEDED', 'BATCH_STATE_FAILED',
    'BATCH_STATE_CANCELLED']);
  // Canvas colours: the same as style.css's --s-* (a canvas cannot read CSS variables cheaply).
  const STATE_COLOURS = {
    TASK_STATE_UNSPECIFIED: '#8c959f', TASK_STATE_PENDING: '#8c959f',
    TASK_STATE_RUNNING: '#0969da', TASK_STATE_RETRY_WAIT: '#bf8700',
    TASK_STATE_SUCCEEDED: '#1a7f37', TASK_STATE_FAILED: '#cf222e',
    TASK_STATE_TIMED_OUT: '#bc4c00', TASK_STATE_SKIPPED: '#8250df',
    TASK_STATE_CANCELLED: '#424a53',
  };
  const BATCHES_PAGE_SIZE = 50;
  const BATCHES_REFRESH_MS = 2000;
  const TASKS_POLL_MS = 1000;
  const STREAM_RENDER_MS = 250;
  const TASKS_PAGE_SIZE = 10000;
  const FULL_REFRESH_EVERY_TICKS = 10;  // safety net against any missed change
  const METRICS_SAMPLE_MS = 2000;
  const THROUGHPUT_WINDOW_MS = 5 * 60 * 1000;
  const TOKEN_KEY = 'batchd.token';
  const OUTPUT_SHOW_CHARS = 64 * 1024;        // a final output's JSON shown in the task panel
  const LIVE_OUTPUT_MAX_CHARS = 256 * 1024;   // the newest live output kept in the task panel
  const LIVE_FLUSH_MS = 100;                  // live output chunks are drawn at most this often
  const PANEL_LINKS_MAX = 100;                // dependencies / dependents listed in the panel

  // ---------------------------------------------------------------- test and debug hooks
  const hooks = {
    route: '',
    ready: false,          // the current view has rendered its first data
    firstRenderAt: null,   // performance.now() of the batch view's first graph + table render
    lastRenderMs: null,    // how long the last render of the current view took
    lastUpdateAt: null,    // Date.now() of the last applied data
    updates: 0,            // data refreshes applied in the current view
    counts: {},            // tasks per state (batch view) or batches shown (batches view)
    batchState: null,
    tasks: 0,
    stateSeenAt: {},       // task id -> Date.now() when the page drew its current state
    transitions: [],       // the last 2,000 state changes the page drew: {id, state, at}
    criticalPath: [],
    streamError: null,     // why the results stream is not used, if it is not
    outputStreams: 0,      // task output fetches open (the task panel's), over every view
    taskState: (id) => null,
    throughput: () => throughput.samples.slice(),
  };
  window.batchdDashboard = hooks;

  // ---------------------------------------------------------------- small helpers
  const $ = (sel, root = document) => root.querySelector(sel);
  const escapeHtml = (s) => String(s ?? '').replace(/[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const num = (v) => (v === undefined || v === null || v === '' ? 0 : Number(v));
  const stateLabel = (s) => String(s || 'UNSPECIFIED')
    .replace(/^(TASK|BATCH)_STATE_/, '').replace(/_/g, ' ').toLowerCase()
    .replace(/^\w/, (c) => c.toUpperCase());
  const shortState = (s) => String(s || '').replace(/^(TASK|BATCH)_STATE_/, '');

  function parseTime(ts) {
    if (!ts) return null;
    const ms = Date.parse(ts);
    return Number.isFinite(ms) && ms > 0 ? ms : null;  // the epoch is an unset Timestamp
  }
  function formatDuration(ms) {
    if (ms === null || ms === undefined || !Number.isFinite(ms)) return '';
    if (ms < 1000) return `${Math.round(ms)} ms`;
    const s = ms / 1000;
    if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
    const h = Math.floor(m / 60);
    if (h < 48) return `${h} h ${m - h * 60} min`;
    return `${Math.floor(h / 24)} d ${h % 24} h`;
  }
  function formatAge(ts) {
    const t = parseTime(ts);
    if (!t) return '';
    const ms = Math.max(0, Date.now() - t);
    if (ms < 1000) return 'just now';
    return ms < 60000 ? `${Math.floor(ms / 1000)} s ago` : `${formatDuration(ms)} ago`;
  }
  const formatNumber = (n) => Number(n).toLocaleString('en-US', { maximumFractionDigits: 2 });
  function labelChips(labels) {
    return Object.entries(labels || {}).sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `<span class="chip">${escapeHtml(v === '' ? k : `${k}=${v}`)}</span>`).join('');
  }
  function stateBadge(state) {
    return `<span class="state" data-state="${escapeHtml(state)}">${escapeHtml(stateLabel(state))}</span>`;
  }
  function progressBar(pct, label) {
    const p = Math.max(0, Math.min(100, Number(pct) || 0));
    return `<div class="bar-cell"><div class="bar" role="progressbar" aria-label="${escapeHtml(label)}"
      aria-valuemin="0" aria-valuemax="100" aria-valuenow="${p.toFixed(0)}"><span data-pct="${p}"></span></div>
      <span class="pct">${p.toFixed(0)}%</span></div>`;
  }

  // The daemon's Content-Security-Policy (style-src 'self') refuses style attributes in markup:
  // bar widths are set through the CSSOM after the markup is in place.
  function applyBarWidths(root) {
    for (const span of root.querySelectorAll('.bar > span[data-pct]')) span.style.width = `${span.dataset.pct}%`;
  }

  const errorBanner = {
    show(message) { const el = $('#error-banner'); el.textContent = message; el.hidden = false; },
    clear() { const el = $('#error-banner'); el.hidden = true; el.textContent = ''; },
  };

  // ---------------------------------------------------------------- the API and its token
  class ApiError extends Error {
    constructor(httpStatus, status) {
      super(status?.message || `HTTP ${httpStatus}`);
      this.httpStatus = httpStatus;
      this.code = status?.code;
      this.details = status?.details;
    }
  }

  // Asks for the bearer token when a call gets 401; one prompt serves every waiting call.
  const auth = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    pending: null,
    ask(message) {
      if (this.pending) return this.pending;
      const dialog = $('#token-dialog');
      const input = $('#token-input');
      $('#token-message').textContent = message;
      input.value = '';
      this.pending = new Promise((resolve) => {
        const form = $('#token-form');
        const onSubmit = (ev) => {
          ev.preventDefault();
          const token = input.value.trim();
          if (!token) return;
          form.removeEventListener('submit', onSubmit);
          this.set(token);
          this.pending = null;
          dialog.close();
          resolve(token);
        };
        form.addEventListener('submit', onSubmit);
      });
      if (!dialog.open) dialog.showModal();
      input.focus();
      return this.pending;
    },
    set(token) {
      this.token = token;
      if (token) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
      $('#forget-token').hidden = !token;
    },
  };

  async function apiFetch(path, init = {}) {
    for (;;) {
      const headers = new Headers(init.headers || {});
      if (auth.token) headers.set('Authorization', `Bearer ${auth.token}`);
      const res = await fetch(path, { ...init, headers, cache: 'no-store' });
      if (res.status !== 401) return res;
      const body = await res.json().catch(() => null);
      const why = body?.message ? ` (${body.message})` : '';
      await auth.ask(auth.token ? `The token was refused${why}. Enter the right one.`
        : `This daemon requires a token${why}.`);
    }
  }

  async function api(method, path, body) {
    const init = { method, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
    const res = await apiFetch(path, init);
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : {}; } catch (e) { json = { message: text.slice(0, 200) }; }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  }

  function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) v.forEach((x) => q.append(k, x));
      else if (v !== undefined && v !== null && v !== '') q.append(k, String(v));
    }
    const s = q.toString();
    return s ? `?${s}` : '';
  }

  // Newline-delimited JSON over fetch (EventSource cannot send the Authorization header).
  // Calls onMessage per message; resolves when the stream ends; rejects on a final {"error"}.
  async function readNdjson(path, signal, onMessage) {
    const res = await apiFetch(path, { headers: { Accept: 'application/x-ndjson' }, signal });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      throw new ApiError(res.status, body);
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const handle = (line) => {
      if (!line.trim()) return;
      const msg = JSON.parse(line);
      if (msg.error && Object.keys(msg).length === 1) throw new ApiError(200, msg.error);
      onMessage(msg);
    };
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let nl;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        handle(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    handle(buffer + decoder.decode());
  }

  // ---------------------------------------------------------------- throughput sampling
  // Daemon-wide tasks finished per second, from the sum of batchd_tasks_finished_total (all
  // executors and states) in /metrics, sampled every 2 s from page load on.
  const throughput = {
    samples: [],  // {t: Date.now(), total, rate}
    available: true,
    timer: null,
    start() {
      const sample = async () => {
        try {
          const res = await fetch('/metrics', { cache: 'no-store' });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
          const total = sumCounter(await res.text(), 'batchd_tasks_finished_total');
          const now = Date.now();
          const prev = this.samples[this.samples.length - 1];
          const rate = prev && total >= prev.total ? (total - prev.total) / ((now - prev.t) / 1000) : null;
          this.samples.push({ t: now, total, rate });
          while (this.samples.length && this.samples[0].t < now - THROUGHPUT_WINDOW_MS - 5000) this.samples.shift();
          this.available = true;
        } catch (e) {
          this.available = false;
        }
        this.timer = setTimeout(sample, METRICS_SAMPLE_MS);
      };
      sample();
    },
  };
  function sumCounter(text, name) {
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(name)) continue;
      const rest = line.slice(name.length);
      if (rest[0] !== '{' && rest[0] !== ' ') continue;  // e.g. name_created
      const value = Number(line.slice(line.lastIndexOf(' ') + 1));
      if (Number.isFinite(value)) total += value;
    }
    return total;
  }

  // ---------------------------------------------------------------- view: batches
  function batchesView() {
    const view = { timer: null, stopped: false, tokens: [''], page: 0, filter: { states: [], labelSelector: '' } };
    const params = new URLSearchParams(location.hash.split('?')[1] || '');
    view.filter.states = params.getAll('state');
    view.filter.labelSelector = params.get('labels') || '';

    view.start = (root) => {
      const form = $('#batch-filter', root);
      for (const box of form.querySelectorAll('input[name="state"]')) box.checked = view.filter.states.includes(box.value);
      $('#label-selector', root).value = view.filter.labelSelector;
      form.addEventListener('submit', (ev) => {
        ev.preventDefault();
        view.filter.states = [...form.querySelectorAll('input[name="state"]:checked')].map((b) => b.value);
        view.filter.labelSelector = $('#label-selector', root).value.trim();
        view.tokens = [''];
        view.page = 0;
        // The filter goes into the address (a history entry per Apply), so a reload, a shared
        // link and back/forward keep it; the hashchange of back/forward rebuilds the view from it.
        const hash = `#/${query({ state: view.filter.states, labels: view.filter.labelSelector })}`;
        if (hash !== (location.hash || '#/')) history.pushState(null, '', hash);
        refresh();
      });
      $('#next-page', root).addEventListener('click', () => { view.page += 1; refresh(); });
      $('#prev-page', root).addEventListener('click', () => { view.page = Math.max(0, view.page - 1); refresh(); });
      refresh();
    };
    view.stop = () => { view.stopped = true; clearTimeout(view.timer); };

    async function refresh() {
      clearTimeout(view.timer);
      try {
        const answer = await api('GET', `/v1/batches${query({
          states: view.filter.states, labelSelector: view.filter.labelSelector,
          pageSize: BATCHES_PAGE_SIZE, pageToken: view.tokens[view.page],
        })}`);
        if (view.stopped) return;
        render(answer);
        errorBanner.clear();
      } catch (e) {
        if (view.stopped) return;
        errorBanner.show(`Could not list batches: ${e.message}`);
      }
      if (!view.stopped) view.timer = setTimeout(refresh, BATCHES_REFRESH_MS);
    }

    function render(answer) {
      const started = performance.now();
      const batches = answer.batches || [];
      view.tokens[view.page + 1] = answer.nextPageToken || '';
      const rows = batches.map((b) => {
        const total = num(b.totalTasks);
        const done = num(b.completedTasks);
        const id = b.batchId;
        return `<tr data-batch-id="${escapeHtml(id)}" data-state="${escapeHtml(b.state)}">
          <td><a href="#/batches/${encodeURIComponent(id)}" class="mono">${escapeHtml(id)}</a></td>
          <td>${stateBadge(b.state)}</td>
          <td>${progressBar(b.progressPercentage, `Progress of ${id}`)}</td>
          <td class="num">${formatNumber(done)} / ${formatNumber(total)}${num(b.failedTasks) ? ` <span class="muted">(${formatNumber(num(b.failedTasks))} failed)</span>` : ''}</td>
          <td><div class="labels">${labelChips(b.labels)}</div></td>
          <td title="${escapeHtml(b.createdAt || '')}">${escapeHtml(formatAge(b.createdAt))}</td></tr>`;
      });
      $('#batch-table tbody').innerHTML = rows.join('') ||
        '<tr><td colspan="6" class="muted">No batches match.</td></tr>';
      applyBarWidths($('#batch-table tbody'));
      const total = num(answer.totalSize);
      const first = view.page * BATCHES_PAGE_SIZE;
      $('#batch-count').textContent = `${formatNumber(total)} batch${total === 1 ? '' : 'es'}`;
      $('#page-info').textContent = batches.length
        ? `${formatNumber(first + 1)}–${formatNumber(first + batches.length)} of ${formatNumber(total)}` : '';
      $('#prev-page').disabled = view.page === 0;
      $('#next-page').disabled = !answer.nextPageToken;
      const counts = {};
      for (const b of batches) counts[b.state] = (counts[b.state] || 0) + 1;
      Object.assign(hooks, { counts, tasks: 0, lastRenderMs: performance.now() - started,
        lastUpdateAt: Date.now(), updates: hooks.updates + 1, ready: true });
      hooks.batches = batches.length;
    }
    return view;
  }

  // ---------------------------------------------------------------- view: one batch
  // The batch's tasks live in `model`: an array in task order plus an index by id. Updates:
  // every second ListTasks for RUNNING/RETRY_WAIT (every 5th tick PENDING too), the results
  // stream for final states, and a full paged ListTasks when something does not add up (an
  // unknown task, a task that left the live list without its result) or every 10th tick.
  // The table's filters and the open task panel are in the address (#/batches/ID?state=…&q=…
  // &task=…, replaced in place, no history entry each), so a reload or back/forward keeps them.
  function batchView(batchId, params = new URLSearchParams()) {
    const view = { stopped: false, timer: null, abort: new AbortController(), tick: 0, batchId };
    const model = {
      tasks: [], byId: new Map(), progress: null, batchState: null, awaiting: new Map(),
      resultSeq: '0', missing: new Map(), critical: new Set(), criticalPath: [], version: 0, seq: 0,
      outputs: new Map(),  // task id -> its final output (from the results stream or its output stream)
      dependents: new Map(), dependentsFrom: null,
    };
    const table = { sortKey: null, sortDir: 1, stateFilter: '', text: '', rows: [], rowKeys: [], selected: null };
    // The task panel: one task at a time; `stream` aborts its output fetch.
    const panel = { taskId: null, opener: null, initial: params.get('task') || null, stream: null, ...panelOutputState() };
    const STATE_FILTERS = new Set(['', 'live', ...TASK_STATES]);
    function readFilters(p) {
      const state = p.get('state') || '';
      table.stateFilter = STATE_FILTERS.has(state) ? state : '';
      table.text = (p.get('q') || '').trim();
    }
    readFilters(params);
    function writeHash() {
      if (view.stopped) return;
      const hash = `#/batches/${encodeURIComponent(batchId)}${query({ state: table.stateFilter, q: table.text, task: panel.taskId })}`;
      if (hash !== location.hash) history.replaceState(history.state, '', hash);
    }
    view.update = (p) => {
      const before = `${table.stateFilter}\u0001${table.text}`;
      readFilters(p);
      $('#task-state-filter').value = table.stateFilter;
      $('#task-text-filter').value = table.text;
      if (before !== `${table.stateFilter}\u0001${table.text}`) { refilter(); $('#task-scroll').scrollTop = 0; renderRows(true); }
      const task = p.get('task') || null;
      if (!hooks.ready) panel.initial = task;
      else if (task && task !== panel.taskId && model.byId.has(task)) openPanel(task, null);
      else if (!task && panel.taskId) closePanel(false);
    };
    const graph = { layout: null, hover: null };
    const collator = new Intl.Collator('en', { numeric: true });

    hooks.taskState = (id) => model.byId.get(id)?.state ?? null;
    hooks.stateSeenAt = {};
    hooks.transitions = [];
    // State changes applied to the model but not yet drawn; renderAll stamps them as shown.
    let unshown = [];
    const recordState = (id, state) => unshown.push({ id, state });
    function stampShown() {
      const at = Date.now();
      for (const { id, state } of unshown) {
        hooks.stateSeenAt[id] = at;
        hooks.transitions.push({ id, state, at });
      }
      unshown = [];
      if (hooks.transitions.length > 2000) hooks.transitions.splice(0, hooks.transitions.length - 2000);
    }
    // Stream updates render at most every STREAM_RENDER_MS (a render of 10,000 tasks takes tens
    // of ms; results can arrive hundreds per second).
    let renderTimer = null;
    let lastRenderAt = 0;
    function scheduleRender() {
      if (renderTimer || view.stopped) return;
      renderTimer = setTimeout(() => { renderTimer = null; if (!view.stopped) renderAll(); },
        Math.max(0, lastRenderAt + STREAM_RENDER_MS - performance.now()));
    }

    view.start = (root) => {
      $('#batch-id', root).textContent = batchId;
      $('#legend', root).innerHTML = TASK_STATES.map((s) =>
        `<li><span class="swatch" data-state="${s}"></span>${stateLabel(s)}</li>`).join('') +
        '<li><span class="swatch critical"></span>Critical path</li>';
      $('#task-state-filter', root).value = table.stateFilter;
      $('#task-text-filter', root).value = table.text;
      wireTable(root);
      wireGraph(root);
      wirePanel(root);
      wireActions(root);
      load();
    };
    view.stop = () => {
      view.stopped = true;
      clearTimeout(view.timer);
      clearTimeout(renderTimer);
      view.abort.abort();
      stopPanelOutput();
      document.removeEventListener('keydown', view.onKeydown);
    };

    async function load() {
      try {
        const [progress] = await Promise.all([fetchProgress(), fullRefresh()]);
        if (view.stopped) return;
        model.progress = progress;
        renderAll();
        errorBanner.clear();
        hooks.firstRenderAt = performance.now();
        hooks.ready = true;
        if (panel.initial) {  // #/batches/ID?task=X: open its panel once the tasks are known
          const id = panel.initial;
          panel.initial = null;
          if (model.byId.has(id)) openPanel(id, null);
        }
        if (!isFinal()) {
          followResults();
          view.timer = setTimeout(poll, TASKS_POLL_MS);
        }
      } catch (e) {
        if (view.stopped) return;
        errorBanner.show(e.httpStatus === 404 ? `No batch ${batchId}: ${e.message}` : `Could not load the batch: ${e.message}`);
        if (e.httpStatus !== 404) view.timer = setTimeout(load, 2000);
      }
    }

    const isFinal = () => FINAL_BATCH_STATES.has(model.batchState);
    const batchPath = `/v1/batches/${encodeURIComponent(batchId)}`;

    async function fetchProgress() {
      const answer = await api('GET', `${batchPath}/progress`);
      return answer.progress || {};
    }

    async function listTasks(states) {
      const out = [];
      let pageToken = '';
      let batchState = null;
      do {
        const answer = await api('GET', `${batchPath}/tasks${query({ states, pageSize: TASKS_PAGE_SIZE, pageToken })}`);
        out.push(...(answer.tasks || []));
        pageToken = answer.nextPageToken || '';
        batchState = answer.batchState;
      } while (pageToken && !view.stopped);
      return { tasks: out, batchState };
    }

    async function fullRefresh() {
      const { tasks, batchState } = await listTasks([]);
      const byId = new Map();
      const old = model.byId;
      tasks.forEach((t, i) => {
        normaliseTask(t, i);
        const before = old.get(t.taskId);
        if (!before || before.state !== t.state) recordState(t.taskId, t.state);
        t.v = before && displayKey(before) === displayKey(t) ? before.v : ++model.seq;
        byId.set(t.taskId, t);
      });
      model.tasks = tasks;
      model.byId = byId;
      model.batchState = batchState;
      model.missing.clear();
      model.version += 1;
      computeCriticalPath();
      graph.layout = null;
    }

    // What a table row shows of a task: a row is rewritten only when this changes.
    const displayKey = (t) => [t.state, t.retryCount, t.durationMs, t.workerId, t.error,
      t.waitingReason, t.executor].join('\u0001');

    function normaliseTask(t, index) {
      t.index = index;
      t.layer = num(t.layer);
      t.retryCount = num(t.retryCount);
      t.durationMs = num(t.durationMs);
      t.dependencies = t.dependencies || [];
    }

    // Applies fields of a TaskStatus or TaskResult; a final task never goes back.
    function applyTask(id, fields) {
      const t = model.byId.get(id);
      if (!t) return false;
      if (FINAL_TASK_STATES.has(t.state) && !FINAL_TASK_STATES.has(fields.state)) return true;
      let changed = false;
      for (const key of ['state', 'retryCount', 'durationMs', 'workerId', 'error', 'waitingReason',
        'startedAt', 'finishedAt', 'executor']) {
        if (fields[key] === undefined) continue;
        const value = ['retryCount', 'durationMs'].includes(key) ? num(fields[key]) : fields[key];
        if (t[key] !== value) {
          if (key === 'state') recordState(id, value);
          t[key] = value;
          changed = true;
        }
      }
      if (FINAL_TASK_STATES.has(t.state) && t.waitingReason && fields.waitingReason === undefined) {
        t.waitingReason = '';
        changed = true;
      }
      if (changed) { t.v = ++model.seq; model.version += 1; }
      return true;
    }

    async function poll() {
      if (view.stopped) return;
      view.tick += 1;
      let needFull = view.tick % FULL_REFRESH_EVERY_TICKS === 0;
      try {
        const liveStates = ['TASK_STATE_RUNNING', 'TASK_STATE_RETRY_WAIT'];
        const withPending = view.tick % 5 === 0;
        if (withPending) liveStates.unshift('TASK_STATE_PENDING');
        const [progress, live] = await Promise.all([fetchProgress(), listTasks(liveStates)]);
        if (view.stopped) return;
        model.progress = progress;
        model.batchState = live.batchState || progress.state;
        const seen = new Set();
        for (const t of live.tasks) {
          seen.add(t.taskId);
          if (!applyTask(t.taskId, t)) needFull = true;  // added by AddTasks
        }
        // A task we believed live that the live list no longer has: its result should come on
        // the stream; when it has not after two polls, refresh everything.
        for (const t of model.tasks) {
          const polled = t.state !== 'TASK_STATE_PENDING' || withPending;
          if (FINAL_TASK_STATES.has(t.state) || !polled || seen.has(t.taskId)) { model.missing.delete(t.taskId); continue; }
          const n = (model.missing.get(t.taskId) || 0) + 1;
          model.missing.set(t.taskId, n);
          if (n >= 2) needFull = true;
        }
        if (num(progress.totalTasks) !== model.tasks.length) needFull = true;
        if (isFinal()) needFull = true;
        if (needFull) await fullRefresh();
        if (view.stopped) return;
        renderAll();
        errorBanner.clear();
      } catch (e) {
        if (view.stopped) return;
        errorBanner.show(`Could not refresh the batch: ${e.message}`);
      }
      if (!isFinal() && !view.stopped) view.timer = setTimeout(poll, TASKS_POLL_MS);
      else view.abort.abort();  // the stream is no longer needed
    }

    // Results as they become final (StreamResults over NDJSON, resumed after its sequence).
    async function followResults() {
      try {
        await readNdjson(`${batchPath}/results${query({ afterSequence: model.resultSeq })}`, view.abort.signal, (msg) => {
          // A gateway may wrap stream messages as {"result": <message>}.
          const m = msg.result && !msg.results && (msg.result.results || msg.result.sequence || msg.result.summary) ? msg.result : msg;
          for (const r of m.results || []) {
            applyTask(r.taskId, r);
            model.outputs.set(r.taskId, r.output ?? null);  // for the task panel
            model.missing.delete(r.taskId);
          }
          if ((m.results || []).length) scheduleRender();
          if (m.sequence) model.resultSeq = String(m.sequence);
        });
        hooks.streamError = null;
      } catch (e) {
        if (view.stopped || e.name === 'AbortError') return;
        hooks.streamError = e.message;  // polling with full refreshes still converges
        console.warn('results stream:', e);
        if (!isFinal()) setTimeout(() => { if (!view.stopped && !isFinal()) followResults(); }, 3000);
      }
    }

    // ------------------------------------------------------------ critical path
    // Longest chain through dependencies: each task weighs its durationMs when known (> 0),
    // else the median known duration, else 1 (then it is the longest chain by count).
    function computeCriticalPath() {
      const tasks = model.tasks;
      const known = tasks.map((t) => t.durationMs).filter((d) => d > 0).sort((a, b) => a - b);
      const fallback = known.length ? known[Math.floor(known.length / 2)] : 1;
      const order = tasks.slice().sort((a, b) => a.layer - b.layer || a.index - b.index);
      const dist = new Map();
      const prev = new Map();
      let best = null;
      for (const t of order) {
        let base = 0;
        let from = null;
        for (const d of t.dependencies) {
          const dd = dist.get(d);
          if (dd !== undefined && dd > base) { base = dd; from = d; }
        }
        const value = base + (t.durationMs > 0 ? t.durationMs : fallback);
        dist.set(t.taskId, value);
        prev.set(t.taskId, from);
        if (!best || value > dist.get(best)) best = t.taskId;
      }
      const path = [];
      for (let id = best; id; id = prev.get(id)) path.push(id);
      path.reverse();
      model.criticalPath = path;
      model.critical = new Set(path);
      model.criticalWeight = best ? dist.get(best) : 0;
      model.criticalByDuration = known.length > 0;
      hooks.criticalPath = path;
    }

    // ------------------------------------------------------------ rendering
    function renderAll() {
      const started = performance.now();
      if (model.version !== model.criticalVersion) {
        computeCriticalPath();
        model.criticalVersion = model.version;
      }
      const awaiting = new Map();
      for (const a of model.progress?.awaitingCompletion || []) awaiting.set(a.taskId, a);
      model.awaiting = awaiting;
      renderHeader();
      drawGraph();
      refilter();
      renderRows(true);
      renderDetail();
      const counts = {};
      for (const t of model.tasks) counts[t.state] = (counts[t.state] || 0) + 1;
      stampShown();
      lastRenderAt = performance.now();
      Object.assign(hooks, {
        counts, tasks: model.tasks.length, batchState: model.batchState,
        lastRenderMs: performance.now() - started, lastUpdateAt: Date.now(), updates: hooks.updates + 1,
      });
      $('#view').dataset.batchState = model.batchState || '';
    }

    function renderHeader() {
      const p = model.progress || {};
      const state = model.batchState || p.state;
      const badge = $('#batch-state');
      badge.dataset.state = state || '';
      badge.textContent = stateLabel(state);
      $('#batch-labels').innerHTML = labelChips(p.labels);
      const total = num(p.totalTasks) || model.tasks.length;
      const done = num(p.completedTasks);
      const pct = num(p.progressPercentage);
      const bar = $('#batch-progress');
      bar.setAttribute('aria-valuenow', pct.toFixed(0));
      bar.firstElementChild.style.width = `${Math.min(100, pct)}%`;
      const eta = num(p.estimatedRemainingMs);
      $('#batch-progress-text').textContent = `${stateLabel(state)}: ${formatNumber(done)} of ` +
        `${formatNumber(total)} tasks finished (${pct.toFixed(0)}%)` +
        (!FINAL_BATCH_STATES.has(state) && eta > 0 ? `, about ${formatDuration(eta)} left` : '');
      const items = [
        ['Total', total], ['Succeeded', num(p.successfulTasks)], ['Failed', num(p.failedTasks)],
        ['Running', num(p.runningTasks)], ['Pending', num(p.pendingTasks)],
        ['Throttled', num(p.throttledTasks)], ['Awaiting completion', num(p.awaitingCompletionTasks)],
      ];
      if (parseTime(p.createdAt)) items.push(['Age', formatAge(p.createdAt)]);
      if (!FINAL_BATCH_STATES.has(state) && eta > 0) items.push(['ETA', formatDuration(eta)]);
      $('#batch-counts').innerHTML = items.map(([k, v]) =>
        `<div><dt>${k}</dt><dd data-count="${escapeHtml(k)}">${typeof v === 'number' ? formatNumber(v) : escapeHtml(v)}</dd></div>`).join('');
      $('#cancel-batch').disabled = FINAL_BATCH_STATES.has(state);
    }

    // Cell size: the largest that fits every layer's column(s) in the width at <= 420 px high.
    function computeLayout() {
      const wrap = $('#graph-wrap');
      const width = Math.max(300, wrap.clientWidth - 14);
      const maxHeight = 420;
      const layers = [];
      for (const t of model.tasks) (layers[t.layer] ||= []).push(t);
      const cols = layers.map((l) => l || []);
      const counts = cols.map((l) => l.length);
      const maxCount = Math.max(1, ...counts);
      let chosen = null;
      for (const size of [28, 24, 20, 18, 16, 14, 12, 10, 8, 7, 6, 5, 4, 3, 2]) {
        const rows = Math.max(1, Math.floor(maxHeight / size));
        const gap = size >= 4 && cols.length < width / 8 ? 3 : 1;
        const sub = counts.reduce((s, n) => s + Math.max(1, Math.ceil(n / rows)), 0);
        const w = sub * size + (cols.length - 1) * gap;
        chosen = { size, rows, gap, width: w };
        if (w <= width) break;
      }
      const x0 = [];
      let x = 0;
      counts.forEach((n, i) => { x0[i] = x; x += Math.max(1, Math.ceil(n / chosen.rows)) * chosen.size + chosen.gap; });
      const pos = new Map();
      cols.forEach((l, li) => l.forEach((t, k) => {
        pos.set(t.taskId, [x0[li] + Math.floor(k / chosen.rows) * chosen.size, (k % chosen.rows) * chosen.size]);
      }));
      return { ...chosen, cols, x0, pos, cssWidth: Math.max(1, chosen.width),
        cssHeight: Math.min(chosen.rows, maxCount) * chosen.size };
    }

    function drawGraph() {
      if (!graph.layout) {
        graph.layout = computeLayout();
        const canvas = $('#graph');
        const dpr = window.devicePixelRatio || 1;
        canvas.style.width = `${graph.layout.cssWidth}px`;
        canvas.style.height = `${graph.layout.cssHeight}px`;
        canvas.width = Math.ceil(graph.layout.cssWidth * dpr);
        canvas.height = Math.ceil(graph.layout.cssHeight * dpr);
        graph.dpr = dpr;
        canvas.setAttribute('aria-label', `Task graph: ${model.tasks.length} tasks in ` +
          `${graph.layout.cols.length} layers; the task table below lists the same tasks`);
      }
      const L = graph.layout;
      const canvas = $('#graph');
      const ctx = canvas.getContext('2d');
      ctx.setTransform(graph.dpr, 0, 0, graph.dpr, 0, 0);
      ctx.clearRect(0, 0, L.cssWidth, L.cssHeight);
      const s = L.size;
      const inner = s >= 4 ? s - 1 : s;
      let colour = null;
      for (const t of model.tasks) {
        const c = STATE_COLOURS[t.state] || STATE_COLOURS.TASK_STATE_PENDING;
        if (c !== colour) { ctx.fillStyle = c; colour = c; }
        const [x, y] = L.pos.get(t.taskId);
        ctx.fillRect(x, y, inner, inner);
      }
      // The critical path: a line through its cells and an outline on each.
      if (model.criticalPath.length) {
        ctx.strokeStyle = '#000';
        ctx.lineWidth = s >= 6 ? 1.5 : 1;
        ctx.beginPath();
        model.criticalPath.forEach((id, i) => {
          const [x, y] = L.pos.get(id) || [0, 0];
          if (i === 0) ctx.moveTo(x + inner / 2, y + inner / 2); else ctx.lineTo(x + inner / 2, y + inner / 2);
        });
        ctx.stroke();
        if (s >= 4) for (const id of model.criticalPath) {
          const [x, y] = L.pos.get(id) || [0, 0];
          ctx.strokeRect(x + 0.5, y + 0.5, inner - 1, inner - 1);
        }
      }
      const focus = table.selected || graph.hover;
      if (focus && L.pos.has(focus)) {
        const [fx, fy] = L.pos.get(focus);
        ctx.strokeStyle = '#d4a72c';
        ctx.lineWidth = 1;
        ctx.beginPath();
        for (const d of model.byId.get(focus)?.dependencies || []) {
          const p = L.pos.get(d);
          if (!p) continue;
          ctx.moveTo(p[0] + inner / 2, p[1] + inner / 2);
          ctx.lineTo(fx + inner / 2, fy + inner / 2);
        }
        ctx.stroke();
        ctx.lineWidth = 2;
        ctx.strokeStyle = '#e36209';
        ctx.strokeRect(fx - 1, fy - 1, inner + 2, inner + 2);
      }
      const cp = model.criticalPath;
      $('#critical-path').textContent = cp.length
        ? `Critical path: ${cp.length} task${cp.length === 1 ? '' : 's'}` +
          (model.criticalByDuration ? `, ${formatDuration(model.criticalWeight)} by duration` : ' (by count: no durations yet)') +
          `: ${cp.slice(0, 8).join(' → ')}${cp.length > 8 ? ' → …' : ''}`
        : '';
    }

    function taskAt(clientX, clientY) {
      const L = graph.layout;
      if (!L) return null;
      const rect = $('#graph').getBoundingClientRect();
      const x = clientX - rect.left;
      const y = clientY - rect.top;
      let lo = 0;
      let hi = L.x0.length - 1;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (L.x0[mid] <= x) lo = mid; else hi = mid - 1; }
      const col = L.cols[lo];
      if (!col || x < L.x0[lo]) return null;
      const sub = Math.floor((x - L.x0[lo]) / L.size);
      const row = Math.floor(y / L.size);
      if (row < 0 || row >= L.rows) return null;
      return col[sub * L.rows + row]?.taskId ?? null;
    }

    function wireGraph(root) {
      const canvas = $('#graph', root);
      const tip = $('#graph-tooltip', root);
      canvas.addEventListener('mousemove', (ev) => {
        const id = taskAt(ev.clientX, ev.clientY);
        if (id !== graph.hover) { graph.hover = id; drawGraph(); }
        if (!id) { tip.hidden = true; return; }
        const t = model.byId.get(id);
        tip.textContent = `${id} · ${stateLabel(t.state)} · layer ${t.layer}` + (t.durationMs ? ` · ${formatDuration(t.durationMs)}` : '');
        const wrapRect = $('#graph-wrap').getBoundingClientRect();
        tip.style.left = `${ev.clientX - wrapRect.left + 12 + $('#graph-wrap').scrollLeft}px`;
        tip.style.top = `${ev.clientY - wrapRect.top + 12 + $('#graph-wrap').scrollTop}px`;
        tip.hidden = false;
        tip.dataset.taskId = id;
      });
      canvas.addEventListener('mouseleave', () => { tip.hidden = true; graph.hover = null; drawGraph(); });
      canvas.addEventListener('click', (ev) => { const id = taskAt(ev.clientX, ev.clientY); if (id) selectTask(id, true, { element: canvas }); });
      let resizeTimer = null;
      view.onResize = () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { graph.layout = null; drawGraph(); }, 150); };
      window.addEventListener('resize', view.onResize);
      const stop = view.stop;
      view.stop = () => { window.removeEventListener('resize', view.onResize); stop(); };
    }

    // Activated from the graph (scroll: the table is brought to its row) or a row's id link.
    function selectTask(id, scroll, opener) {
      if (scroll && !table.rows.some((t) => t.taskId === id)) {
        table.stateFilter = ''; table.text = ''; $('#task-state-filter').value = ''; $('#task-text-filter').value = ''; refilter();
      }
      openPanel(id, opener);
      if (scroll) {
        const i = table.rows.findIndex((t) => t.taskId === id);
        if (i >= 0) { $('#task-scroll').scrollTop = i * rowHeight() - 2 * rowHeight(); renderRows(true); }
      }
    }

    // ------------------------------------------------------------ the task panel
    // A region beside the page (not modal): the task's fields, its dependencies and dependents
    // as links that open their own panel, its final output, and while it runs its live output
    // (StreamTaskOutput as NDJSON). Focus goes to its heading and, on close (button, Escape),
    // back to what opened it: a row's id link (found again by task id: rows are re-rendered) or
    // the graph.
    function panelOutputState() {
      return { pending: '', shown: 0, trimmed: 0, dropped: 0, resumeAt: 0, received: false, gotResult: false, gaveUp: false,
        retries: 0, retryTimer: null, flushTimer: null, outputFor: null, fieldsKey: null, depsHtml: null, dependentsHtml: null };
    }

    function wirePanel(root) {
      const el = $('#task-detail', root);
      el.addEventListener('click', (ev) => {
        if (ev.target.closest('#task-detail-close')) { closePanel(true); return; }
        const a = ev.target.closest('a[data-task-link]');
        if (!a || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
        ev.preventDefault();  // the href (…?task=ID) still serves a new tab
        openPanel(a.dataset.taskLink, null);
      });
      view.onKeydown = (ev) => {
        if (ev.key !== 'Escape' || !panel.taskId || ev.defaultPrevented || document.querySelector('dialog[open]')) return;
        // Escape in the table's filter inputs is theirs (a search field clears itself).
        if (ev.target.closest?.('input, select, textarea') && !el.contains(ev.target)) return;
        ev.preventDefault();
        closePanel(true);
      };
      document.addEventListener('keydown', view.onKeydown);
    }

    // opener: {row: id} or {element}, for focus on close; null keeps the current one (a link
    // inside the panel, the address).
    function openPanel(id, opener) {
      if (!model.byId.has(id)) return;
      const el = $('#task-detail');
      if (panel.taskId !== id) {
        stopPanelOutput();
        resetPanelOutput();
        panel.taskId = id;
      }
      if (opener) panel.opener = opener; else if (el.hidden) panel.opener = null;
      el.hidden = false;
      el.dataset.taskId = id;
      table.selected = id;
      drawGraph();
      renderDetail();
      renderRows(true);
      writeHash();
      $('#task-detail-title').focus();
    }

    function closePanel(restoreFocus) {
      stopPanelOutput();
      resetPanelOutput();
      panel.taskId = null;
      const el = $('#task-detail');
      el.hidden = true;
      delete el.dataset.taskId;
      table.selected = null;
      drawGraph();
      renderRows(true);
      writeHash();
      const opener = panel.opener;
      panel.opener = null;
      if (restoreFocus) focusOpener(opener);
    }

    const rowLink = (id) => $(`#task-rows tr[data-task-id="${CSS.escape(id)}"] button[data-action="select"]`);
    function focusOpener(opener) {
      if (opener?.row) {
        let link = rowLink(opener.row);
        const i = link ? 0 : table.rows.findIndex((t) => t.taskId === opener.row);
        if (!link && i >= 0) {  // scrolled out of the rendered rows meanwhile
          $('#task-scroll').scrollTop = Math.max(0, i * rowHeight() - 2 * rowHeight());
          renderRows(false);
          link = rowLink(opener.row);
        }
        if (link) { link.focus(); return; }
      } else if (opener?.element?.isConnected) {
        opener.element.focus();
        return;
      }
      $('#task-scroll').focus();
    }

    function stopPanelOutput() {
      if (panel.stream) { panel.stream.abort(); panel.stream = null; }
      clearTimeout(panel.retryTimer);
      clearTimeout(panel.flushTimer);
    }

    function resetPanelOutput() {
      Object.assign(panel, panelOutputState());
      $('#task-live').hidden = true;
      $('#task-live-status').textContent = '';
      $('#task-live-dropped').hidden = true;
      $('#task-live-trimmed').hidden = true;
      $('#task-live-output').textContent = '';
      $('#task-output-section').hidden = true;
      $('#task-output-note').hidden = true;
      $('#task-output').textContent = '';
    }

    function dependentsOf(id) {
      if (model.dependentsFrom !== model.tasks) {  // the task list was replaced (a full refresh)
        const m = new Map();
        for (const t of model.tasks) {
          for (const d of t.dependencies) {
            const list = m.get(d);
            if (list) list.push(t.taskId); else m.set(d, [t.taskId]);
          }
        }
        model.dependents = m;
        model.dependentsFrom = model.tasks;
      }
      return model.dependents.get(id) || [];
    }

    function taskLinksHtml(ids) {
      if (!ids.length) return '<li class="muted">none</li>';
      const items = ids.slice(0, PANEL_LINKS_MAX).map((id) => {
        const d = model.byId.get(id);
        return `<li><a href="#/batches/${encodeURIComponent(batchId)}${query({ task: id })}" class="mono" ` +
          `data-task-link="${escapeHtml(id)}">${escapeHtml(id)}</a> ${d ? stateBadge(d.state) : ''}</li>`;
      });
      if (ids.length > PANEL_LINKS_MAX) items.push(`<li class="muted">and ${formatNumber(ids.length - PANEL_LINKS_MAX)} more</li>`);
      return items.join('');
    }

    // Rewritten only when it changed; a focused link keeps the focus.
    function setLinks(listId, headingId, label, ids, key) {
      const html = taskLinksHtml(ids);
      if (panel[key] === html) return;
      panel[key] = html;
      $(`#${headingId}`).textContent = `${label} (${formatNumber(ids.length)})`;
      const ul = $(`#${listId}`);
      const focused = ul.contains(document.activeElement) ? document.activeElement.dataset.taskLink : null;
      ul.innerHTML = html;
      if (focused) ul.querySelector(`a[data-task-link="${CSS.escape(focused)}"]`)?.focus();
    }

    const timeHtml = (ts) => {
      const ms = parseTime(ts);
      return ms ? `<time datetime="${escapeHtml(ts)}">${escapeHtml(new Date(ms).toLocaleString())}</time>` : '';
    };

    function renderDetail() {
      const t = panel.taskId && model.byId.get(panel.taskId);
      if (!t) return;
      const critical = model.critical.has(t.taskId);
      const key = `${t.taskId}\u0001${t.v}\u0001${critical}`;
      if (key !== panel.fieldsKey) {
        panel.fieldsKey = key;
        $('#task-detail-id').textContent = t.taskId;
        const running = t.state === 'TASK_STATE_RUNNING';
        const fields = [
          ['state', 'State', stateBadge(t.state)], ['executor', 'Executor', escapeHtml(t.executor)],
          ['layer', 'Layer', String(t.layer)], ['retries', 'Retries', String(t.retryCount)],
          ['duration', 'Duration', t.durationMs ? escapeHtml(formatDuration(t.durationMs) + (running ? ' so far' : '')) : ''],
          ['worker', 'Worker', escapeHtml(t.workerId || '')], ['started', 'Started', timeHtml(t.startedAt)],
          ['finished', 'Finished', timeHtml(t.finishedAt)], ['error', 'Error', escapeHtml(t.error || '')],
          ['waiting', 'Waiting reason', escapeHtml(t.waitingReason || '')],
          ['critical', 'On critical path', critical ? 'yes' : 'no'],
        ];
        $('#task-detail-fields').innerHTML = fields.map(([name, label, html]) =>
          `<dt>${label}</dt><dd data-field="${name}">${html}</dd>`).join('');
      }
      setLinks('task-deps', 'task-deps-heading', 'Dependencies', t.dependencies, 'depsHtml');
      setLinks('task-dependents', 'task-dependents-heading', 'Dependents', dependentsOf(t.taskId), 'dependentsHtml');
      // Output: a final task's from the results stream when it came there, else the last line
      // of its output stream; a task not final yet streams its live output, then its result.
      if (panel.stream || panel.retryTimer || panel.outputFor === t.taskId) return;
      if (FINAL_TASK_STATES.has(t.state)) {
        if (model.outputs.has(t.taskId)) showOutput(t.taskId, 'results'); else if (!panel.gaveUp) followOutput(t.taskId);
      } else if (!panel.gotResult && !panel.gaveUp) {
        followOutput(t.taskId);
      }
    }

    function showOutput(id, source) {
      panel.outputFor = id;
      const output = model.outputs.get(id);
      const section = $('#task-output-section');
      const pre = $('#task-output');
      const note = $('#task-output-note');
      section.hidden = false;
      section.dataset.source = source;
      const t = model.byId.get(id);
      if (output === null && t && t.state !== 'TASK_STATE_SUCCEEDED') {
        pre.textContent = '(none)';
        note.hidden = true;
        return;
      }
      let text = JSON.stringify(output ?? null, null, 2);
      if (text.length > OUTPUT_SHOW_CHARS) {
        note.textContent = `Truncated: the first ${formatNumber(OUTPUT_SHOW_CHARS)} of ${formatNumber(text.length)} characters are shown.`;
        note.hidden = false;
        text = `${text.slice(0, OUTPUT_SHOW_CHARS)}\n…`;
      } else {
        note.hidden = true;
      }
      pre.textContent = text;
    }

    const liveStatus = (text) => { $('#task-live-status').textContent = text; };
    function utf8Length(s) {
      let n = 0;
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c < 0x80) n += 1; else if (c < 0x800) n += 2;
        else if (c >= 0xd800 && c < 0xdc00) { n += 4; i += 1; } else n += 3;
      }
      return n;
    }

    // GET …/tasks/{id}/output as NDJSON: {offset, data, droppedBytes} messages, the last with
    // the result. A final task's is read from past its end (only the result comes); a live
    // one's from where this panel stopped, again after an interruption (5 tries in a row).
    async function followOutput(id) {
      const t = model.byId.get(id);
      const live = !FINAL_TASK_STATES.has(t.state);
      const abort = new AbortController();
      panel.stream = abort;
      hooks.outputStreams += 1;
      if (live) {
        $('#task-live').hidden = false;
        liveStatus(t.state === 'TASK_STATE_RUNNING' ? 'Following its output…' : `Waiting for it to run (${stateLabel(t.state)})…`);
      }
      let result = null;
      let failure = null;
      try {
        const after = live ? panel.resumeAt : Number.MAX_SAFE_INTEGER;
        await readNdjson(`${batchPath}/tasks/${encodeURIComponent(id)}/output${query({ afterOffset: after })}`, abort.signal, (msg) => {
          // A gateway may wrap stream messages as {"result": <message>} (cf. followResults).
          const m = msg.result && msg.offset === undefined && (msg.result.offset !== undefined || msg.result.data !== undefined) ? msg.result : msg;
          if (live) onOutputMessage(m);
          if (m.result) result = m.result;
        });
      } catch (e) {
        failure = e;
      } finally {
        hooks.outputStreams -= 1;
      }
      if (abort.signal.aborted || view.stopped || panel.taskId !== id) return;
      panel.stream = null;
      flushLiveOutput();
      if (result) {
        panel.gotResult = true;
        model.outputs.set(id, result.output ?? null);
        if (applyTask(id, result)) { model.missing.delete(id); scheduleRender(); }
        if (live) liveStatus(`Finished: ${stateLabel(result.state)}.`);
        showOutput(id, 'stream');
        return;
      }
      const why = failure ? failure.message : 'the stream ended without the result';
      if (failure?.httpStatus === 404 || panel.retries >= 5) {
        panel.gaveUp = true;
        if (live) liveStatus(`Output unavailable: ${why}`);
        else {
          panel.outputFor = id;
          $('#task-output-section').hidden = false;
          $('#task-output-note').textContent = `Could not read the output: ${why}`;
          $('#task-output-note').hidden = false;
        }
        return;
      }
      panel.retries += 1;
      if (live) liveStatus(`Interrupted (${why}); reconnecting…`);
      panel.retryTimer = setTimeout(() => {
        panel.retryTimer = null;
        if (!view.stopped && panel.taskId === id) followOutput(id);
      }, 2000);
    }

    function onOutputMessage(m) {
      panel.retries = 0;
      const dropped = num(m.droppedBytes);
      if (dropped) {
        panel.dropped += dropped;
        if (!panel.received) {
          const note = $('#task-live-dropped');
          note.textContent = `${formatNumber(dropped)} bytes dropped before this (the daemon keeps the newest --max-task-output-bytes of a task).`;
          note.hidden = false;
        } else {
          panel.pending += `\n[${formatNumber(dropped)} bytes dropped here]\n`;
        }
      }
      panel.received = true;
      if (m.data) {
        panel.pending += m.data;
        panel.resumeAt = num(m.offset) + utf8Length(m.data);
        if (!panel.flushTimer) panel.flushTimer = setTimeout(flushLiveOutput, LIVE_FLUSH_MS);
      }
      if (!m.result && $('#task-live-status').textContent.startsWith('Waiting')) liveStatus('Following its output…');
    }

    // Appends what came since the last flush; past LIVE_OUTPUT_MAX_CHARS keeps the newest 3/4
    // of that (from a line start), so trimming is rare.
    function flushLiveOutput() {
      clearTimeout(panel.flushTimer);
      panel.flushTimer = null;
      if (!panel.pending) return;
      const pre = $('#task-live-output');
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      const add = panel.pending;
      panel.pending = '';
      if (panel.shown + add.length <= LIVE_OUTPUT_MAX_CHARS) {
        pre.append(add);
        panel.shown += add.length;
      } else {
        let text = pre.textContent + add;
        let cut = text.length - Math.floor(LIVE_OUTPUT_MAX_CHARS * 0.75);
        const nl = text.indexOf('\n', cut);
        if (nl >= 0 && nl - cut < 4096) cut = nl + 1;
        panel.trimmed += cut;
        text = text.slice(cut);
        pre.textContent = text;
        panel.shown = text.length;
        const note = $('#task-live-trimmed');
        note.textContent = `Only the newest ${formatNumber(text.length)} characters are shown; ${formatNumber(panel.trimmed)} earlier ones are not.`;
        note.hidden = false;
      }
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    }

    // ------------------------------------------------------------ the virtualised task table
    const rowHeight = () => 30;
    const STATE_ORDER = Object.fromEntries(TASK_STATES.map((s, i) => [s, i]));

    function refilter() {
      const text = table.text.toLowerCase();
      const f = table.stateFilter;
      let rows = model.tasks;
      if (f || text) {
        rows = rows.filter((t) => (!f || (f === 'live' ? !FINAL_TASK_STATES.has(t.state) : t.state === f)) &&
          (!text || t.taskId.toLowerCase().includes(text) || (t.error || '').toLowerCase().includes(text) ||
            (t.workerId || '').toLowerCase().includes(text) || (t.waitingReason || '').toLowerCase().includes(text) ||
            (t.executor || '').toLowerCase().includes(text)));
      } else {
        rows = rows.slice();
      }
      const k = table.sortKey;
      if (k) {
        const d = table.sortDir;
        const cmp = {
          taskId: (a, b) => collator.compare(a.taskId, b.taskId),
          state: (a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state],
          layer: (a, b) => a.layer - b.layer,
          retryCount: (a, b) => a.retryCount - b.retryCount,
          durationMs: (a, b) => a.durationMs - b.durationMs,
        }[k] || ((a, b) => collator.compare(a[k] || '', b[k] || ''));
        rows.sort((a, b) => d * cmp(a, b) || a.index - b.index);
      }
      table.rows = rows;
      $('#task-count').textContent = `${formatNumber(rows.length)} of ${formatNumber(model.tasks.length)} tasks`;
    }

    function rowHtml(t) {
      const final = FINAL_TASK_STATES.has(t.state);
      const awaiting = t.state === 'TASK_STATE_RUNNING' && t.executor === 'external';
      const actions = [];
      if (!final) actions.push(`<button type="button" class="small danger" data-action="cancel" aria-label="Cancel task ${escapeHtml(t.taskId)}">Cancel</button>`);
      if (awaiting) actions.push(`<button type="button" class="small" data-action="complete" aria-label="Complete task ${escapeHtml(t.taskId)}">Complete</button>`);
      const dur = t.durationMs ? formatDuration(t.durationMs) : '';
      return `<td><button type="button" class="task-link mono" data-action="select" title="${escapeHtml(t.taskId)}">${escapeHtml(t.taskId)}</button></td>
        <td>${stateBadge(t.state)}</td><td>${escapeHtml(t.executor)}</td><td class="num">${t.layer}</td>
        <td class="num">${t.retryCount}</td><td class="num">${escapeHtml(dur)}</td>
        <td title="${escapeHtml(t.workerId || '')}">${escapeHtml(t.workerId || '')}</td>
        <td title="${escapeHtml(t.error || '')}">${escapeHtml(t.error || '')}</td>
        <td title="${escapeHtml(t.waitingReason || '')}">${escapeHtml(t.waitingReason || '')}</td>
        <td>${actions.join(' ')}</td>`;
    }

    // Renders only the rows in view (plus a margin) between two spacer rows; a row whose task
    // has not changed keeps its element, so focus and a pointer on its buttons survive updates.
    function renderRows(force) {
      const scroller = $('#task-scroll');
      const tbody = $('#task-rows');
      const h = rowHeight();
      const headerH = h;
      const first = Math.max(0, Math.floor((scroller.scrollTop - headerH) / h) - 10);
      const visible = Math.ceil(scroller.clientHeight / h) + 20;
      const last = Math.min(table.rows.length, first + visible);
      let top = tbody.firstElementChild;
      if (!top || !top.classList.contains('spacer')) {
        tbody.innerHTML = '<tr class="spacer" aria-hidden="true"><td colspan="10"></td></tr><tr class="spacer" aria-hidden="true"><td colspan="10"></td></tr>';
        top = tbody.firstElementChild;
      }
      const bottom = tbody.lastElementChild;
      top.firstElementChild.style.height = `${first * h}px`;
      top.style.display = first ? '' : 'none';
      const rest = (table.rows.length - last) * h;
      bottom.firstElementChild.style.height = `${rest}px`;
      bottom.style.display = rest ? '' : 'none';
      const existing = new Map();
      for (let tr = top.nextElementSibling; tr && tr !== bottom; tr = tr.nextElementSibling) existing.set(tr.dataset.taskId, tr);
      const wanted = [];
      for (let i = first; i < last; i++) {
        const t = table.rows[i];
        const key = `${t.v}:${t.state}:${model.critical.has(t.taskId) ? 1 : 0}:${table.selected === t.taskId ? 1 : 0}`;
        let tr = existing.get(t.taskId);
        if (tr) existing.delete(t.taskId);
        else { tr = document.createElement('tr'); tr.dataset.taskId = t.taskId; }
        if (force || tr.dataset.key !== key || tr.dataset.state !== t.state) {
          if (tr.dataset.key !== key || !tr.firstChild) tr.innerHTML = rowHtml(t);
          tr.dataset.key = key;
          tr.dataset.state = t.state;
          tr.className = (model.critical.has(t.taskId) ? 'critical' : '') + (table.selected === t.taskId ? ' selected' : '');
        }
        wanted.push(tr);
      }
      for (const tr of existing.values()) tr.remove();
      let cursor = top;
      for (const tr of wanted) {
        if (cursor.nextElementSibling !== tr) cursor.after(tr);
        cursor = tr;
      }
      tbody.dataset.rows = String(table.rows.length);
    }

    function wireTable(root) {
      const scroller = $('#task-scroll', root);
      let pending = false;
      scroller.addEventListener('scroll', () => {
        if (pending) return;
        pending = true;
        requestAnimationFrame(() => { pending = false; renderRows(false); });
      });
      for (const th of root.querySelectorAll('#task-table th[data-sort]')) {
        th.querySelector('button').addEventListener('click', () => {
          const key = th.dataset.sort;
          if (table.sortKey === key) table.sortDir = -table.sortDir; else { table.sortKey = key; table.sortDir = 1; }
          for (const other of root.querySelectorAll('#task-table th[data-sort]')) other.setAttribute('aria-sort', 'none');
          th.setAttribute('aria-sort', table.sortDir > 0 ? 'ascending' : 'descending');
          refilter();
          renderRows(true);
        });
      }
      $('#task-state-filter', root).addEventListener('change', (ev) => {
        table.stateFilter = ev.target.value; refilter(); scroller.scrollTop = 0; renderRows(true); writeHash();
      });
      let textTimer = null;
      $('#task-text-filter', root).addEventListener('input', (ev) => {
        clearTimeout(textTimer);
        textTimer = setTimeout(() => {
          if (view.stopped) return;
          table.text = ev.target.value.trim(); refilter(); scroller.scrollTop = 0; renderRows(true); writeHash();
        }, 120);
      });
      $('#task-rows', root).addEventListener('click', (ev) => {
        const button = ev.target.closest('button[data-action]');
        if (!button) return;
        const id = button.closest('tr').dataset.taskId;
        if (button.dataset.action === 'select') selectTask(id, false, { row: id });
        else if (button.dataset.action === 'cancel') cancelTask(id, button);
        else if (button.dataset.action === 'complete') openComplete(id);
      });
    }

    // ------------------------------------------------------------ actions
    async function cancelTask(id, button) {
      button.disabled = true;
      try {
        const answer = await api('POST', `${batchPath}/tasks/${encodeURIComponent(id)}:cancel`, { reason: 'cancelled from the dashboard' });
        if (answer.result) applyTask(id, answer.result);
        renderAll();
        errorBanner.clear();
      } catch (e) {
        button.disabled = false;
        errorBanner.show(`Could not cancel task ${id}: ${e.message}`);
      }
    }

    function wireActions(root) {
      const dialog = $('#cancel-dialog');
      $('#cancel-batch', root).addEventListener('click', () => dialog.showModal());
      $('#cancel-dismiss').onclick = () => dialog.close();
      $('#cancel-form').onsubmit = async (ev) => {
        ev.preventDefault();
        const confirm = $('#cancel-confirm');
        confirm.disabled = true;
        try {
          const answer = await api('POST', `${batchPath}:cancel`, { reason: $('#cancel-reason').value });
          dialog.close();
          if (answer.progress) { model.progress = answer.progress; model.batchState = answer.progress.state || model.batchState; }
          await fullRefresh();
          renderAll();
          errorBanner.clear();
        } catch (e) {
          dialog.close();
          errorBanner.show(`Could not cancel the batch: ${e.message}`);
        } finally {
          confirm.disabled = false;
        }
      };
      const completeDialog = $('#complete-dialog');
      $('#complete-dismiss').onclick = () => completeDialog.close();
      for (const radio of document.querySelectorAll('#complete-form input[name="outcome"]')) {
        radio.onchange = () => {
          const isError = $('#complete-fail').checked;
          $('#complete-output-field').hidden = isError;
          $('#complete-error-field').hidden = !isError;
        };
      }
      $('#complete-form').onsubmit = async (ev) => {
        ev.preventDefault();
        const id = completeDialog.dataset.taskId;
        const message = $('#complete-message');
        const awaiting = model.awaiting.get(id);
        if (!awaiting) { message.textContent = 'No completion token for this task yet (the daemon lists the first 100 awaiting tasks); try again in a moment.'; return; }
        const body = { token: awaiting.token };
        if ($('#complete-fail').checked) {
          body.error = $('#complete-error').value || 'rejected from the dashboard';
          body.nonRetryable = $('#complete-non-retryable').checked;
        } else {
          try { body.output = JSON.parse($('#complete-output').value); } catch (e) { message.textContent = `Output is not JSON: ${e.message}`; return; }
        }
        try {
          const answer = await api('POST', `${batchPath}/tasks/${encodeURIComponent(id)}:complete`, body);
          completeDialog.close();
          if (answer.result) applyTask(id, answer.result); else if (answer.state) applyTask(id, { state: answer.state, retryCount: answer.retryCount });
          renderAll();
        } catch (e) {
          message.textContent = `Refused: ${e.message}`;
        }
      };
    }

    function openComplete(id) {
      const dialog = $('#complete-dialog');
      dialog.dataset.taskId = id;
      $('#complete-task-id').textContent = id;
      const a = model.awaiting.get(id);
      $('#complete-input').textContent = a ? JSON.stringify(a.input ?? null, null, 2) : '(not known yet)';
      $('#complete-message').textContent = '';
      dialog.showModal();
    }

    return view;
  }

  // ---------------------------------------------------------------- view: executors + workers
  function workersView() {
    const view = { stopped: false, timer: null };
    view.start = () => refresh();
    view.stop = () => { view.stopped = true; clearTimeout(view.timer); };
    async function refresh() {
      try {
        const [ex, wk] = await Promise.all([api('GET', '/v1/executors'), api('GET', '/v1/workers')]);
        if (view.stopped) return;
        const started = performance.now();
        $('#executor-table tbody').innerHTML = (ex.executors || []).map((e) =>
          `<tr data-executor="${escapeHtml(e.name)}"><td class="mono">${escapeHtml(e.name)}</td><td>${escapeHtml(e.kind)}</td>
           <td class="num">${num(e.workers)}</td><td class="num">${num(e.capacity) || 'unbounded'}</td></tr>`).join('') ||
          '<tr><td colspan="4" class="muted">No executors.</td></tr>';
        const workers = wk.workers || [];
        $('#worker-count').textContent = `${workers.length} connected worker${workers.length === 1 ? '' : 's'}`;
        $('#worker-table tbody').innerHTML = workers.map((w) => {
          const slots = num(w.slots);
          const used = num(w.slotsInUse);
          return `<tr data-worker-id="${escapeHtml(w.workerId)}"><td>${escapeHtml(w.name || w.workerId)}<br><span class="muted mono">${escapeHtml(w.workerId)}</span></td>
            <td>${(w.executors || []).map((x) => `<span class="chip">${escapeHtml(x)}</span>`).join(' ')}</td>
            <td>${progressBar(slots ? (100 * used) / slots : 0, `Slots in use of ${w.name || w.workerId}`)}<span class="muted">${used} / ${slots}</span></td>
            <td class="num">${formatNumber(num(w.weight))}</td><td class="num">${formatNumber(num(w.completedTasks))}</td>
            <td><div class="labels">${labelChips(w.labels)}</div></td>
            <td title="${escapeHtml(w.connectedAt || '')}">${escapeHtml(formatAge(w.connectedAt))}</td>
            <td class="mono">${escapeHtml(w.peer)}</td></tr>`;
        }).join('') || '<tr><td colspan="8" class="muted">No workers connected.</td></tr>';
        applyBarWidths($('#worker-table tbody'));
        Object.assign(hooks, { ready: true, lastRenderMs: performance.now() - started, lastUpdateAt: Date.now(),
          updates: hooks.updates + 1, counts: { executors: (ex.executors || []).length, workers: workers.length } });
        errorBanner.clear();
      } catch (e) {
        if (!view.stopped) errorBanner.show(`Could not list executors and workers: ${e.message}`);
      }
      if (!view.stopped) view.timer = setTimeout(refresh, 2000);
    }
    return view;
  }

  // ---------------------------------------------------------------- view: limits
  function durationText(d) {
    // google.protobuf.Duration in JSON: "60s", "0.5s".
    const s = parseFloat(String(d || '0'));
    if (!s) return '?';
    if (s % 86400 === 0) return s === 86400 ? 'day' : `${s / 86400} days`;
    if (s % 3600 === 0) return s === 3600 ? 'hour' : `${s / 3600} h`;
    if (s % 60 === 0) return s === 60 ? 'min' : `${s / 60} min`;
    return s === 1 ? 's' : `${s} s`;
  }
  function limitsView() {
    const view = { stopped: false, timer: null };
    view.start = () => refresh();
    view.stop = () => { view.stopped = true; clearTimeout(view.timer); };
    async function refresh() {
      try {
        const answer = await api('GET', '/v1/limits');
        if (view.stopped) return;
        const started = performance.now();
        const limits = answer.limits || [];
        $('#limit-count').textContent = `${limits.length} configured limit${limits.length === 1 ? '' : 's'}`;
        $('#limit-table tbody').innerHTML = limits.map((st) => {
          const l = st.limit || {};
          const max = l.maxInFlight !== undefined && l.maxInFlight !== null ? ` / ${num(l.maxInFlight)}` : '';
          const rates = (l.rates || []).map((r, i) => {
            const measure = r.measure === 'RATE_MEASURE_REQUESTS' ? 'requests' : 'units';
            return `<div>${formatNumber(num((st.available || [])[i]))} available · ${formatNumber(num((st.effectiveUnits || [])[i]))} ` +
              `of ${formatNumber(num(r.units))} ${measure} per ${escapeHtml(durationText(r.period))}</div>`;
          }).join('') || '<span class="muted">no rates</span>';
          return `<tr data-limit-key="${escapeHtml(l.key)}"><td class="mono">${escapeHtml(l.key)}</td>
            <td class="num">${formatNumber(num(st.inFlight))}${max}</td><td class="num">${formatNumber(num(st.waiting))}</td>
            <td>${rates}</td><td class="num">${formatNumber(num(st.throttled))}</td>
            <td>${parseTime(st.pausedUntil) && parseTime(st.pausedUntil) > Date.now() ? escapeHtml(st.pausedUntil) : ''}</td></tr>`;
        }).join('') || '<tr><td colspan="6" class="muted">No limits configured.</td></tr>';
        Object.assign(hooks, { ready: true, lastRenderMs: performance.now() - started, lastUpdateAt: Date.now(),
          updates: hooks.updates + 1, counts: { limits: limits.length } });
        errorBanner.clear();
      } catch (e) {
        if (!view.stopped) errorBanner.show(`Could not list limits: ${e.message}`);
      }
      if (!view.stopped) view.timer = setTimeout(refresh, 2000);
    }
    return view;
  }

  // ---------------------------------------------------------------- view: throughput
  function throughputView() {
    const view = { stopped: false, timer: null };
    view.start = () => { tick(); refreshCache(); };
    view.stop = () => { view.stopped = true; clearTimeout(view.timer); clearTimeout(view.cacheTimer); };
    function tick() {
      if (view.stopped) return;
      const started = performance.now();
      draw();
      Object.assign(hooks, { ready: true, lastRenderMs: performance.now() - started, lastUpdateAt: Date.now(),
        updates: hooks.updates + 1, counts: { samples: throughput.samples.length } });
      view.timer = setTimeout(tick, METRICS_SAMPLE_MS);
    }
    async function refreshCache() {
      try {
        const answer = await api('GET', '/v1/cache/stats');
        if (view.stopped) return;
        const s = answer.stats || {};
        const items = [['Hits', s.hits], ['Misses', s.misses], ['Single-flight joins', s.singleFlightJoins],
          ['Stored', s.stored], ['Entries', s.entries], ['Bytes', s.bytes], ['Max bytes', s.maxBytes],
          ['Evictions', s.evictions], ['Expirations', s.expirations], ['Running keys', s.flights]];
        $('#cache-stats').innerHTML = items.map(([k, v]) => `<div><dt>${k}</dt><dd>${formatNumber(num(v))}</dd></div>`).join('');
      } catch (e) {
        if (!view.stopped) $('#cache-stats').textContent = `Cache stats unavailable: ${e.message}`;
      }
      if (!view.stopped) view.cacheTimer = setTimeout(refreshCache, 5000);
    }
    function draw() {
      const canvas = $('#throughput-chart');
      const dpr = window.devicePixelRatio || 1;
      const w = canvas.clientWidth || 800;
      const h = canvas.clientHeight || 260;
      canvas.width = w * dpr;
      canvas.height = h * dpr;
      const ctx = canvas.getContext('2d');
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.clearRect(0, 0, w, h);
      const now = Date.now();
      const pts = throughput.samples.filter((s) => s.rate !== null && s.t >= now - THROUGHPUT_WINDOW_MS);
      const peak = Math.max(1, ...pts.map((p) => p.rate));
      const left = 56;
      const bottom = h - 24;
      const plotW = w - left - 10;
      ctx.fillStyle = '#57606a';
      ctx.font = '12px system-ui, sans-serif';
      ctx.strokeStyle = '#d0d7de';
      ctx.lineWidth = 1;
      for (let i = 0; i <= 4; i++) {
        const y = bottom - ((bottom - 10) * i) / 4;
        ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(w - 10, y); ctx.stroke();
        ctx.fillText(formatNumber((peak * i) / 4), 4, y + 4);
      }
      for (let m = 0; m <= 5; m++) ctx.fillText(m === 0 ? 'now' : `-${m} min`, left + plotW - (plotW * m) / 5 - 16, h - 6);
      ctx.strokeStyle = '#0969da';
      ctx.lineWidth = 2;
      ctx.beginPath();
      pts.forEach((p, i) => {
        const x = left + plotW - (plotW * (now - p.t)) / THROUGHPUT_WINDOW_MS;
        const y = bottom - ((bottom - 10) * p.rate) / peak;
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      ctx.stroke();
      const last = pts[pts.length - 1];
      const total = throughput.samples[throughput.samples.length - 1]?.total;
      $('#throughput-text').textContent = !throughput.available ? 'The daemon\'s /metrics is not reachable.'
        : last ? `Now ${formatNumber(last.rate)} tasks/s · peak ${formatNumber(Math.max(...pts.map((p) => p.rate)))} tasks/s over the window · ${formatNumber(total)} tasks finished since the daemon started`
          : 'Collecting samples…';
    }
    return view;
  }

  // ---------------------------------------------------------------- routing
  const routes = [
    [/^#?\/?$/, () => ['batches', 'tpl-batches', batchesView(), 'nav-batches']],
    [/^#\/\?/, () => ['batches', 'tpl-batches', batchesView(), 'nav-batches']],
    [/^#\/batches\/([^?]+)(?:\?(.*))?$/, (m) => ['batch', 'tpl-batch', batchView(decodeURIComponent(m[1]), new URLSearchParams(m[2] || '')), 'nav-batches']],
    [/^#\/workers$/, () => ['workers', 'tpl-workers', workersView(), 'nav-workers']],
    [/^#\/limits$/, () => ['limits', 'tpl-limits', limitsView(), 'nav-limits']],
    [/^#\/throughput$/, () => ['throughput', 'tpl-throughput', throughputView(), 'nav-throughput']],
  ];
  let current = null;

  function route() {
    // The same batch with other parameters (back/forward, an edited address, a task link opened
    // here): the view applies them in place instead of reloading its tasks.
    const same = (location.hash || '').match(/^#\/batches\/([^?]+)(?:\?(.*))?$/);
    if (same && current?.batchId === decodeURIComponent(same[1]) && current.update) {
      current.update(new URLSearchParams(same[2] || ''));
      return;
    }
    if (current) current.stop();
    current = null;
    errorBanner.clear();
    for (const dialog of document.querySelectorAll('dialog[open]')) if (dialog.id !== 'token-dialog') dialog.close();
    const hash = location.hash || '#/';
    let found = null;
    for (const [re, make] of routes) { const m = hash.match(re); if (m) { found = make(m); break; } }
    const main = $('#view');
    Object.assign(hooks, { ready: false, firstRenderAt: null, lastRenderMs: null, updates: 0, counts: {}, batchState: null, tasks: 0, criticalPath: [] });
    for (const a of document.querySelectorAll('nav a')) a.removeAttribute('aria-current');
    if (!found) {
      main.dataset.route = 'not-found';
      main.innerHTML = `<h2>Not found</h2><p>No page <code>${escapeHtml(hash)}</code>. <a href="#/">All batches</a></p>`;
      hooks.route = 'not-found';
      return;
    }
    const [name, tpl, view, nav] = found;
    main.dataset.route = name;
    hooks.route = name;
    main.replaceChildren(document.getElementById(tpl).content.cloneNode(true));
    document.getElementById(nav).setAttribute('aria-current', 'page');
    document.title = name === 'batch' ? `Batch ${view.batchId} · batchd` : 'batchd dashboard';
    current = view;
    view.start(main);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#forget-token').hidden = !auth.token;
    $('#forget-token').addEventListener('click', () => { auth.set(''); route(); });
    $('#token-dialog').addEventListener('cancel', (ev) => ev.preventDefault());  // a token is needed to go on
    window.addEventListener('hashchange', route);
    throughput.start();
    route();
  });
})();

// The administrator's page of irp-server (docs/OPERATIONS.md, "Web page").
// No framework and no build step. The page holds no data of its own: every call
// goes to the admin API with the token typed in, kept in this tab's
// sessionStorage. Whatever comes from the API reaches the DOM as text only
// (textContent), never as markup.
'use strict';

(() => {
  const TOKEN_KEY = 'irp-admin-token';
  const TITLE = 'IRP admin';
  const POLL_MS = 2000;       // pending requests
  const SLOW_EVERY = 5;       // devices and surge guard: every 5th poll
  const PAGE = 200;           // devices per page
  const MAX_PENDING = 1000;   // the API's largest page

  const $ = (id) => document.getElementById(id);

  // ---- the API ---------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, name, message) {
      super(message);
      this.status = status;  // HTTP status, 0 when the server did not answer
      this.name = name;      // the error's name from the API ("bad_argument", ...)
    }
  }

  async function api(method, path, body) {
    const init = {
      method,
      headers: { Authorization: 'Bearer ' + (sessionStorage.getItem(TOKEN_KEY) || ''), Accept: 'application/json' },
      cache: 'no-store',
      credentials: 'omit',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', 'no answer from the server (' + e.message + ')');
    }
    const text = await res.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = data && typeof data === 'object' ? data.error : null;
      if (err && typeof err === 'object')
        throw new ApiError(res.status, String(err.name || 'error'), String(err.message || ''));
      throw new ApiError(res.status, 'HTTP ' + res.status, res.statusText || 'the request failed');
    }
    if (!data || typeof data !== 'object') throw new ApiError(res.status, 'bad_answer', 'the answer is not a JSON object');
    return data;
  }

  const path = (...parts) => parts.map((p) => encodeURIComponent(String(p))).join('/');

  // ---- small helpers -----------------------------------------------------------

  let statusFromPoll = false;  // the status line shows a polling error (cleared when polling recovers)

  function say(text, kind) {
    const s = $('status');
    s.textContent = text;
    s.dataset.kind = kind || 'info';
    statusFromPoll = false;
  }

  function sayError(what, e) {
    if (e instanceof ApiError) say(what + ': ' + e.name + ': ' + e.message + (e.status ? ' (HTTP ' + e.status + ')' : ''), 'error');
    else say(what + ': ' + (e && e.message ? e.message : String(e)), 'error');
  }

  function el(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function button(label, action, extra) {
    const b = el('button', label);
    b.type = 'button';
    b.dataset.action = action;
    if (extra) b.className = extra;
    return b;
  }

  function time(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds <= 0) return '—';
    return new Date(seconds * 1000).toLocaleString();
  }

  function timeCell(seconds) {
    const td = el('td', time(seconds));
    if (typeof seconds === 'number' && seconds > 0) td.title = new Date(seconds * 1000).toISOString();
    return td;
  }

  const str = (v) => (v === undefined || v === null ? '' : String(v));

  // ---- pending requests ------------------------------------------------------------

  // Rows are kept by request id and updated in place, so a poll never throws
  // away a note being typed.
  const pendingRows = new Map();  // id -> {tr, cells}
  const known = new Set();        // every pending id shown in this session
  const fresh = new Set();        // ids that appeared after the first poll, not yet acknowledged
  let firstPoll = true;

  function makePendingRow(h) {
    const tr = document.createElement('tr');
    tr.dataset.requestId = h.id;
    tr.dataset.deviceId = str(h.device_id);
    const cells = {};
    for (const k of ['device', 'class', 'model', 'peer', 'key', 'first', 'asks', 'reason']) {
      cells[k] = el('td');
      cells[k].dataset.field = k;
      tr.append(cells[k]);
    }
    cells.key.className = 'mono';
    cells.peer.className = 'mono';
    cells.asks.className = 'num';

    const actions = el('td', null, 'actions');
    const normal = el('div', null, 'buttons');
    normal.append(button('Approve', 'approve', 'approve'), button('Reject', 'reject', 'reject'));
    const reject = el('div', null, 'reject-form');
    reject.hidden = true;
    const note = document.createElement('input');
    note.type = 'text';
    note.maxLength = 200;
    note.placeholder = 'note for the device';
    note.dataset.field = 'note';
    note.setAttribute('aria-label', 'Rejection note for ' + str(h.device_id));
    reject.append(note, button('Send rejection', 'confirm-reject', 'reject'), button('Cancel', 'cancel-reject'));
    actions.append(normal, reject);
    tr.append(actions);
    return { tr, cells, normal, reject, note };
  }

  function updatePendingRow(row, h) {
    const set = (k, v) => {
      if (row.cells[k].textContent !== v) row.cells[k].textContent = v;
    };
    set('device', str(h.device_id));
    set('class', str(h.class));
    set('model', str(h.model));
    set('peer', str(h.peer));
    const key = str(h.key_sha256);
    set('key', key.slice(0, 16));
    row.cells.key.title = key;
    set('first', time(h.first_seen));
    row.cells.first.title = typeof h.first_seen === 'number' ? new Date(h.first_seen * 1000).toISOString() : '';
    set('asks', str(h.asks));
    set('reason', str(h.reason));
    row.cells.reason.title = h.proof ? 'proof: ' + str(h.proof) : '';
    row.tr.classList.toggle('fresh', fresh.has(h.id));
  }

  function renderPending(list) {
    const ids = new Set(list.map((h) => h.id));
    for (const [id, row] of pendingRows) {
      if (!ids.has(id)) {
        row.tr.remove();
        pendingRows.delete(id);
        fresh.delete(id);
      }
    }
    for (const h of list) {
      if (!known.has(h.id)) {
        known.add(h.id);
        if (!firstPoll) fresh.add(h.id);
      }
    }
    firstPoll = false;
    const tbody = $('pending-body');
    list.forEach((h, i) => {
      let row = pendingRows.get(h.id);
      if (!row) {
        row = makePendingRow(h);
        pendingRows.set(h.id, row);
      }
      updatePendingRow(row, h);
      const at = tbody.children[i];
      if (at !== row.tr) tbody.insertBefore(row.tr, at || null);
    });

    const n = list.length;
    const shown = n >= MAX_PENDING ? MAX_PENDING + '+' : String(n);
    $('pending-count').textContent = shown;
    $('pending-empty').hidden = n > 0;
    $('pending-table').hidden = n === 0;
    document.title = n > 0 ? '(' + shown + ') ' + TITLE : TITLE;
    showBadge();
    $('app').dataset.polls = String(Number($('app').dataset.polls || 0) + 1);  // for tests: polls rendered
  }

  function showBadge() {
    const badge = $('new-badge');
    badge.hidden = fresh.size === 0;
    badge.dataset.newCount = String(fresh.size);
    badge.textContent = fresh.size === 1 ? '1 new request' : fresh.size + ' new requests';
  }

  function acknowledge() {
    fresh.clear();
    for (const row of pendingRows.values()) row.tr.classList.remove('fresh');
    showBadge();
  }

  async function refreshPending() {
    const data = await api('GET', '/v1/held?state=pending&limit=' + MAX_PENDING);
    renderPending(Array.isArray(data.requests) ? data.requests : []);
  }

  async function decide(id, approve, note) {
    const row = pendingRows.get(id);
    const device = row ? row.tr.dataset.deviceId : id;
    if (row) row.tr.querySelectorAll('button').forEach((b) => (b.disabled = true));
    try {
      await api('POST', '/v1/held/' + path(id) + (approve ? '/approve' : '/reject'), note ? { note } : {});
      say(approve ? 'Approved ' + device + ': it receives its certificate when it asks again.'
                  : 'Rejected ' + device + (note ? ' with the note "' + note + '".' : '.'), 'ok');
      fresh.delete(id);
    } catch (e) {
      sayError((approve ? 'Approve ' : 'Reject ') + device, e);
    } finally {
      if (row) row.tr.querySelectorAll('button').forEach((b) => (b.disabled = false));
    }
    await refreshQuietly(refreshPending);
    slowSoon();
  }

  function openReject(row, open) {
    row.normal.hidden = open;
    row.reject.hidden = !open;
    if (open) row.note.focus();
    else row.note.value = '';
  }

  function onPendingClick(ev) {
    const b = ev.target.closest('button[data-action]');
    const tr = ev.target.closest('tr[data-request-id]');
    if (!b || !tr) return;
    const id = tr.dataset.requestId;
    const row = pendingRows.get(id);
    if (!row) return;
    switch (b.dataset.action) {
      case 'approve': decide(id, true, ''); break;
      case 'reject': openReject(row, true); break;
      case 'cancel-reject': openReject(row, false); break;
      case 'confirm-reject': decide(id, false, row.note.value.trim()); break;
    }
  }

  function onPendingKey(ev) {
    const input = ev.target.closest('input[data-field="note"]');
    const tr = ev.target.closest('tr[data-request-id]');
    if (!input || !tr) return;
    const row = pendingRows.get(tr.dataset.requestId);
    if (!row) return;
    if (ev.key === 'Enter') {
      ev.preventDefault();
      decide(tr.dataset.requestId, false, input.value.trim());
    } else if (ev.key === 'Escape') {
      openReject(row, false);
    }
  }

  // ---- devices ---------------------------------------------------------------------

  let devicesShown = 0;
  let devicesNext = '';
  const busyDevices = new Set();

  function deviceRow(d) {
    const tr = document.createElement('tr');
    tr.dataset.deviceId = str(d.device_id);
    const released = typeof d.released_at === 'number';
    tr.dataset.released = String(released);
    const id = el('td', str(d.device_id));
    id.dataset.field = 'device';
    const rel = el('td', released ? 'yes, ' + time(d.released_at) : 'no');
    rel.dataset.field = 'released';
    tr.append(id, el('td', str(d.class)), timeCell(d.first_seen), timeCell(d.last_seen), rel);
    const actions = el('td', null, 'actions');
    const revoke = button('Revoke', 'revoke', 'reject');
    const release = button('Release', 'release');
    release.disabled = released;
    if (busyDevices.has(d.device_id)) revoke.disabled = release.disabled = true;
    actions.append(revoke, release);
    tr.append(actions);
    return tr;
  }

  async function loadDevices(more) {
    const limit = more ? PAGE : Math.min(MAX_PENDING, Math.max(PAGE, devicesShown));
    const q = '?limit=' + limit + (more && devicesNext ? '&after=' + encodeURIComponent(devicesNext) : '');
    const data = await api('GET', '/v1/devices' + q);
    const list = Array.isArray(data.devices) ? data.devices : [];
    const tbody = $('devices-body');
    if (more) tbody.append(...list.map(deviceRow));
    else tbody.replaceChildren(...list.map(deviceRow));
    devicesShown = more ? devicesShown + list.length : list.length;
    devicesNext = str(data.next);
    $('devices-more').hidden = list.length < limit;
    $('devices-empty').hidden = devicesShown > 0;
    $('devices-table').hidden = devicesShown === 0;
  }

  async function onDevicesClick(ev) {
    const b = ev.target.closest('button[data-action]');
    const tr = ev.target.closest('tr[data-device-id]');
    if (!b || !tr) return;
    const id = tr.dataset.deviceId;
    const action = b.dataset.action;
    if (action === 'revoke') {
      const reason = $('revoke-reason').value;
      if (!confirm('Revoke every certificate of ' + id + ' (reason: ' + reason + ')?')) return;
      await deviceAction(id, tr, async () => {
        const r = await api('POST', '/v1/devices/' + path(id) + '/revoke', { reason });
        const n = Array.isArray(r.revoked) ? r.revoked.length : 0;
        say('Revoked ' + n + ' certificate' + (n === 1 ? '' : 's') + ' of ' + id + ' (' + reason + ').', 'ok');
      }, 'Revoke ' + id);
    } else if (action === 'release') {
      if (!confirm('Release ' + id + '? Its certificates are revoked (cessationOfOperation) and the device id is released.')) return;
      await deviceAction(id, tr, async () => {
        const r = await api('POST', '/v1/devices/' + path(id) + '/release', {});
        const n = Array.isArray(r.revoked) ? r.revoked.length : Number(r.revoked) || 0;
        say('Released ' + id + (n === 0 ? ' (no live certificate left to revoke).'
                                         : '; ' + n + ' certificate' + (n === 1 ? '' : 's') + ' revoked.'), 'ok');
      }, 'Release ' + id);
    }
  }

  async function deviceAction(id, tr, f, what) {
    busyDevices.add(id);
    tr.querySelectorAll('button').forEach((b) => (b.disabled = true));
    try {
      await f();
    } catch (e) {
      sayError(what, e);
    } finally {
      busyDevices.delete(id);
    }
    await refreshQuietly(() => loadDevices(false));
  }

  // ---- surge guard -----------------------------------------------------------------

  async function refreshSurge() {
    const data = await api('GET', '/v1/surge');
    const max = Number(data.max_new_devices) || 0;
    $('surge-policy').textContent = max === 0
      ? 'The surge guard is off (surge.max_new_devices = 0).'
      : 'New devices of a class are held for approval once ' + max + ' have enrolled within ' +
        str(data.window_s) + ' s.';
    const active = (Array.isArray(data.classes) ? data.classes : []).filter((c) => c && c.active === true);
    $('surge-body').replaceChildren(...active.map((c) => {
      const tr = document.createElement('tr');
      tr.dataset.class = str(c.class);
      const actions = el('td', null, 'actions');
      actions.append(button('Lift for 1 hour', 'lift'));
      tr.append(el('td', str(c.class)), el('td', str(c.new_devices_in_window) + ' / ' + max, 'num'), actions);
      return tr;
    }));
    $('surge-empty').hidden = active.length > 0;
    $('surge-table').hidden = active.length === 0;
  }

  async function onSurgeClick(ev) {
    const b = ev.target.closest('button[data-action="lift"]');
    const tr = ev.target.closest('tr[data-class]');
    if (!b || !tr) return;
    const cls = tr.dataset.class;
    b.disabled = true;
    try {
      const r = await api('POST', '/v1/surge/' + path(cls) + '/lift', { hours: 1 });
      say('Lifted the surge guard of ' + cls + ' for 1 hour; ' + str(r.approved) + ' held request(s) approved.', 'ok');
    } catch (e) {
      sayError('Lift ' + cls, e);
    }
    await refreshQuietly(refreshSurge);
    await refreshQuietly(refreshPending);
  }

  // ---- polling and signing in ------------------------------------------------------

  let generation = 0;  // bumped on sign-out: a poll of an older session stops
  let timer = null;
  let polls = 0;

  async function refreshQuietly(f) {
    try {
      await f();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) return signOut(e);
      sayError('Refresh', e);
    }
  }

  function slowSoon() {
    polls = 0;  // the next poll refreshes devices and the surge guard too
  }

  async function poll(gen) {
    if (gen !== generation) return;
    try {
      await refreshPending();
      if (polls % SLOW_EVERY === 0) {
        await loadDevices(false);
        await refreshSurge();
      }
      polls++;
      if (statusFromPoll) say('', 'info');
    } catch (e) {
      if (gen !== generation) return;
      if (e instanceof ApiError && e.status === 401) return signOut(e);
      sayError('Refresh', e);
      statusFromPoll = true;
    }
    if (gen === generation) timer = setTimeout(() => poll(gen), POLL_MS);
  }

  function showApp(on) {
    $('login').hidden = on;
    $('app').hidden = !on;
    $('sign-out').hidden = !on;
  }

  function reset() {
    generation++;
    clearTimeout(timer);
    timer = null;
    polls = 0;
    firstPoll = true;
    pendingRows.clear();
    known.clear();
    fresh.clear();
    devicesShown = 0;
    devicesNext = '';
    delete $('app').dataset.polls;
    for (const id of ['pending-body', 'devices-body', 'surge-body']) $(id).replaceChildren();
    showBadge();
    document.title = TITLE;
  }

  function signOut(error) {
    sessionStorage.removeItem(TOKEN_KEY);
    reset();
    showApp(false);
    if (error) sayError('Signed out', error);
    else say('Signed out.', 'info');
    $('token').focus();
  }

  async function signIn(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
    say('Signing in…', 'info');
    try {
      await api('GET', '/v1/held?state=pending&limit=1');
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      showApp(false);
      sayError('Sign-in', e);
      return;
    }
    reset();
    showApp(true);
    say('Signed in.', 'ok');
    poll(generation);
  }

  function onLogin(ev) {
    ev.preventDefault();
    const input = $('token');
    const token = input.value.trim();
    input.value = '';
    if (!/^[\x21-\x7e]+$/.test(token)) {
      say('Sign-in: the token is printable ASCII without spaces (the content of admin.token).', 'error');
      return;
    }
    signIn(token);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login').addEventListener('submit', onLogin);
    $('sign-out').addEventListener('click', () => signOut(null));
    $('new-badge').addEventListener('click', acknowledge);
    $('pending-body').addEventListener('click', onPendingClick);
    $('pending-body').addEventListener('keydown', onPendingKey);
    $('devices-body').addEventListener('click', onDevicesClick);
    $('devices-refresh').addEventListener('click', () => refreshQuietly(() => loadDevices(false)));
    $('devices-more').addEventListener('click', () => refreshQuietly(() => loadDevices(true)));
    $('surge-body').addEventListener('click', onSurgeClick);
    const saved = sessionStorage.getItem(TOKEN_KEY);
    if (saved) signIn(saved);
    else $('token').focus();
  });
})();

// lanchat in the browser: one view per conversation, over three kinds of
// request (docs/PROTOCOL.md, "The web page").
//
// 1. Login.  POST /api/login (or /api/signup) answers a session token.
// 2. Events. GET /api/events?token=T is a Server-Sent Events stream: every
//    event is `id: N`, `data: {json}` and a blank line. We read it with
//    fetch() rather than EventSource so that we see the HTTP status (401
//    means the session is gone: back to the login) and choose when to
//    reconnect; on reconnecting we send `Last-Event-ID`, as EventSource
//    would, and the server sends what the dropped stream missed.
// 3. Send.   POST /api/send with the line as typed and `to`, the
//    conversation shown (`#dev` or `@bob`). The answer is the outcome,
//    {"ok":true} or {"ok":false,"error":"slow down"}: our own message is
//    shown at once as sending, then marked sent or failed with the reason.
//    The lists the page needs by itself (a room's members, the room
//    directory) come from POST /api/members and /api/rooms, which the
//    server answers on the stream and never counts against the user's
//    rate limit.
//
// Why textContent everywhere: every text in the chat was typed by someone
// else. It reaches the page only through textContent and createElement,
// never innerHTML, so `<img src=x onerror=...>` shows as those characters
// instead of becoming an element. The server's Content-Security-Policy
// would also refuse to run injected script; not parsing chat text as HTML
// in the first place is the real defence, the CSP is the second wall.

'use strict';

// --- Settings ---------------------------------------------------------------

const MAX_ENTRIES = 500; // per conversation, oldest dropped first
const HISTORY_STEP = 50; // "load earlier" asks for this many more
const HISTORY_MAX = 200; // the most one /history gives (src/protocol.rs)
const RETRY_FIRST_MS = 500; // reconnect backoff: 0.5 s, 1 s, 2 s, 4 s, 5 s...
const RETRY_MAX_MS = 5000;
// The server keeps a session this long after its stream drops (its
// `reconnect_grace_secs`, 30 s by default). Past it, with the server still
// out of reach, the session is surely gone.
const GIVE_UP_MS = 35000;
const GONE = 'Your session has ended (the server restarted, or you were away too long). Log in again.';
// A link: http(s):// up to a space or a character that cannot be in one.
const LINK = /\bhttps?:\/\/[^\s<>"']+/gi;

// --- The page's elements ----------------------------------------------------

const $ = (id) => document.getElementById(id);
const el = {};
for (const id of ['status', 'menu', 'menu-unread', 'notify', 'login-view', 'login',
  'login-hint', 'name', 'password-row', 'password', 'repeat-row', 'repeat',
  'login-button', 'signup-toggle', 'login-error', 'chat-view', 'sidebar',
  'my-rooms', 'people', 'no-people', 'refresh-rooms', 'directory', 'title',
  'topic', 'members-toggle', 'leave', 'scroll', 'earlier', 'messages',
  'members-pane', 'members', 'send', 'line', 'announce']) {
  el[id.replace(/-(.)/g, (_, c) => c.toUpperCase())] = $(id);
}

// --- What the page knows ----------------------------------------------------

// A conversation: a room (key `#dev`) or a person (key `@bob`, lower case;
// `name` keeps their spelling). Entries are messages and notices, oldest
// first, each { kind: 'msg'|'note', time: Date, ... }.
function conversation(key, name) {
  return {
    key, name, room: key.startsWith('#'), entries: [], seen: new Set(),
    unread: 0, mention: false, members: null, more: 0, topic: null,
    earlier: 'more', // 'more', 'asking' or 'none': the "load earlier" button
  };
}

const state = {
  token: null,
  me: null, // our name, from `hello` and `now_known_as`
  lastId: null, // the number of the last event read: Last-Event-ID
  rooms: new Map(), // key -> conversation, in the order joined
  people: new Map(),
  lobby: conversation('*', 'lanchat'), // notices when no room is open
  active: null,
  directory: [], // [{ room, members }] from the last `rooms` event
  abort: null, // stops the current stream's fetch
  ended: null, // why the session ended, once the server said so
  sendQueue: Promise.resolve(), // lines go one after another, in order
};

// --- Step 1: login ----------------------------------------------------------

// "Create account" turns the form into a sign-up (POST /api/signup) and
// back. The server checks every rule and answers in the terminal's words.
let signingUp = false;
el.signupToggle.addEventListener('click', () => {
  signingUp = !signingUp;
  el.passwordRow.hidden = !signingUp;
  el.repeatRow.hidden = !signingUp;
  el.password.autocomplete = signingUp ? 'new-password' : 'current-password';
  el.loginButton.textContent = signingUp ? 'Create account' : 'Log in';
  el.signupToggle.textContent = signingUp ? 'Log in instead' : 'Create account';
  el.loginError.textContent = '';
});

el.login.addEventListener('submit', async (event) => {
  event.preventDefault(); // handle the form here instead of navigating
  const fields = { name: el.name.value.trim() };
  if (signingUp || !el.passwordRow.hidden) fields.password = el.password.value;
  if (signingUp) fields.repeat = el.repeat.value;
  el.loginButton.disabled = true;
  el.loginError.textContent = '';
  try {
    const response = await post(signingUp ? '/api/signup' : '/api/login', fields);
    const body = (await response.text()).trim();
    if (response.ok && body !== '') return startSession(body);
    // The server explains a refusal in one protocol line (`! ...`).
    el.loginError.textContent = body || `! login failed (HTTP ${response.status})`;
    if (response.status === 401 && body.startsWith('! password required')) {
      el.passwordRow.hidden = false; // a registered name: ask for its password
      el.password.focus();
    } else if (body === '! wrong password') {
      el.password.select();
    }
  } catch (error) {
    el.loginError.textContent = '! cannot reach the server';
  } finally {
    el.loginButton.disabled = false;
  }
});

// Back to the login form after a session ends, the name filled in (never
// the password: the page does not keep it).
function backToLogin(hint) {
  if (state.abort) state.abort.abort();
  state.token = null;
  state.abort = null;
  setStatus('closed');
  el.name.value = state.me || el.name.value;
  el.password.value = '';
  el.loginHint.textContent = hint;
  el.loginHint.hidden = false;
  el.chatView.hidden = true;
  el.menu.hidden = true;
  el.notify.hidden = true;
  el.loginView.hidden = false;
  document.title = 'lanchat';
  el.name.focus();
}

// --- Step 2: the event stream -----------------------------------------------

function startSession(token) {
  Object.assign(state, {
    token, me: null, lastId: null, ended: null, active: null, directory: [],
    rooms: new Map(), people: new Map(), lobby: conversation('*', 'lanchat'),
  });
  el.password.value = '';
  el.repeat.value = '';
  el.loginHint.hidden = true;
  el.loginView.hidden = true;
  el.chatView.hidden = false;
  el.menu.hidden = false;
  el.notify.hidden = !mayAskToNotify();
  open(state.lobby);
  el.line.focus();
  stay(token);
}

// Keeps the stream open for as long as the session lasts: reconnects with
// a growing pause after a drop, and gives up when the server says the
// session is gone (401) or has been out of reach for longer than it waits.
async function stay(token) {
  let failures = 0;
  let lostAt = null;
  while (state.token === token) {
    setStatus('connecting');
    const how = await listen(token, () => { failures = 0; lostAt = null; });
    if (state.token !== token) return;
    if (state.ended) return backToLogin(state.ended);
    if (how === 'gone') return backToLogin(GONE);
    lostAt = lostAt || Date.now();
    if (Date.now() - lostAt > GIVE_UP_MS) {
      return backToLogin('The server has been out of reach for too long. Log in again.');
    }
    const pause = Math.min(RETRY_FIRST_MS * 2 ** failures, RETRY_MAX_MS);
    failures += 1;
    setStatus('reconnecting', `connection lost; retrying in ${Math.ceil(pause / 1000)} s`);
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
}

// One stream, read to its end. Resolves to 'gone' (401: no such session)
// or 'lost' (anything else). `opened` runs once the server accepted it.
async function listen(token, opened) {
  state.abort = new AbortController();
  const headers = state.lastId === null ? {} : { 'Last-Event-ID': String(state.lastId) };
  try {
    const response = await fetch(`/api/events?token=${encodeURIComponent(token)}`,
      { headers, cache: 'no-store', signal: state.abort.signal });
    if (response.status === 401) return 'gone';
    if (!response.ok || !response.body) return 'lost';
    opened();
    setStatus('open');
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return 'lost';
      buffer += decoder.decode(value, { stream: true });
      // An event ends with a blank line; the JSON inside has no newline.
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        readEvent(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
      }
    }
  } catch (error) {
    return 'lost'; // the network, or our own abort
  }
}

// One event's lines: `id: N` and `data: {...}`; comments start with `:`.
function readEvent(block) {
  for (const line of block.split('\n')) {
    if (line.startsWith('id: ')) state.lastId = Number(line.slice(4));
    if (!line.startsWith('data: ')) continue;
    let event;
    try {
      event = JSON.parse(line.slice(6));
    } catch (error) {
      continue; // not ours to show
    }
    const handle = HANDLERS[event.type];
    if (handle) handle(event); // a type we do not know yet: ignore it
  }
}

function setStatus(connection, text) {
  el.status.dataset.state = connection;
  el.status.textContent = text || { connecting: 'connecting…', open: 'connected',
    closed: 'disconnected', reconnecting: 'reconnecting…' }[connection];
}

// What each event does to the page (docs/PROTOCOL.md lists them all).
const HANDLERS = {
  hello(e) {
    state.me = e.name;
    if (e.room) open(room(e.room));
    for (const line of e.motd) note(active(), line);
    askRooms();
  },
  replay(e) {
    merge(room(e.room), e.messages);
  },
  said(e) {
    const conv = state.rooms.get(`#${e.room}`);
    if (conv) incoming(conv, e.from, e.text, new Date(e.time), e.action);
  },
  direct(e) {
    incoming(person(e.from), e.from, e.text, new Date(), e.action);
  },
  joined(e) {
    const conv = state.rooms.get(`#${e.room}`);
    if (!conv) return;
    setMembers(conv, [...(conv.members || []), { name: e.name, op: false }]);
    note(conv, `${e.name} joined`);
  },
  left(e) {
    const conv = state.rooms.get(`#${e.room}`);
    if (!conv) return;
    setMembers(conv, (conv.members || []).filter((m) => m.name !== e.name));
    const why = e.how === 'kicked' ? ' (kicked)' : e.reason ? ` (${e.reason})` : '';
    note(conv, `${e.name} left${why}`);
  },
  renamed(e) {
    for (const conv of state.rooms.values()) {
      if (!(conv.members || []).some((m) => m.name === e.old)) continue;
      setMembers(conv, conv.members.map((m) => (m.name === e.old ? { ...m, name: e.new } : m)));
      note(conv, `${e.old} is now known as ${e.new}`);
    }
    const conv = state.people.get(`@${e.old.toLowerCase()}`);
    if (conv) renamePerson(conv, e.new);
  },
  topic_set(e) {
    const conv = room(e.room);
    conv.topic = e.text || null;
    note(conv, e.text ? `${e.name} set the topic: ${e.text}` : `${e.name} cleared the topic`);
  },
  server(e) { note(active(), `server: ${e.text}`, 'server'); },
  shutting_down() { note(active(), 'The server is shutting down.', 'server'); },
  you_joined(e) {
    const conv = room(e.room);
    conv.topic = e.topic ? e.topic.text : null;
    conv.more = e.more;
    setMembers(conv, e.members);
    open(conv);
    askRooms();
  },
  now_talking_in(e) { open(room(e.room)); },
  you_left(e) {
    state.rooms.delete(`#${e.room}`);
    if (state.active && state.active.key === `#${e.room}`) {
      open(state.rooms.values().next().value || state.lobby);
    }
    renderSidebar();
    askRooms();
  },
  now_known_as(e) { state.me = e.new; },
  topic(e) {
    const conv = room(e.room);
    conv.topic = e.topic ? e.topic.text : null;
    note(conv, e.topic ? `topic: ${e.topic.text} (set by ${e.topic.by})` : 'no topic');
  },
  rooms(e) {
    state.directory = e.rooms;
    renderSidebar();
  },
  users(e) {
    const conv = e.room && state.rooms.get(`#${e.room}`);
    if (conv) {
      conv.more = e.more;
      return setMembers(conv, e.members);
    }
    const names = e.members.map((m) => m.name).join(', ');
    note(active(), `${e.room ? `in #${e.room}` : 'online'}: ${names}${e.more ? `, and ${e.more} more` : ''}`);
  },
  help(e) { for (const line of e.lines) note(active(), line); },
  bye() { state.ended = 'You left the chat. Log in again to come back.'; },
  kicked(e) {
    state.ended = `You were removed by the operator${e.reason ? `: ${e.reason}` : ''}.`;
  },
  room_changed(e) {
    const conv = state.rooms.get(`#${e.room}`);
    if (!conv) return;
    const flag = { operator: 'op', voice: 'voice' }[e.change];
    if (flag) {
      setMembers(conv, (conv.members || []).map((m) => (m.name === e.name ? { ...m, [flag]: e.on } : m)));
    }
    note(conv, roomChange(e));
  },
  kicked_from(e) {
    const conv = state.rooms.get(`#${e.room}`);
    const text = `${e.name} was kicked from #${e.room} by ${e.by}${e.reason ? ` (${e.reason})` : ''}`;
    if (e.name !== state.me) {
      if (!conv) return;
      setMembers(conv, (conv.members || []).filter((m) => m.name !== e.name));
      return note(conv, text);
    }
    HANDLERS.you_left({ room: e.room });
    note(active(), text, 'error');
  },
  room_bans(e) {
    note(room(e.room), e.names.length ? `banned: ${e.names.join(', ')}` : 'nobody is banned');
  },
  notice(e) { note(active(), e.text); },
  error(e) { note(active(), e.text, 'error'); },
  gap() {
    for (const conv of state.rooms.values()) {
      note(conv, 'Some messages may be missing while you were away.', 'error');
    }
  },
};

// --- Conversations ----------------------------------------------------------

function room(name) {
  const key = `#${name}`;
  if (!state.rooms.has(key)) {
    state.rooms.set(key, conversation(key, `#${name}`));
    renderSidebar();
  }
  return state.rooms.get(key);
}

function person(name) {
  const key = `@${name.toLowerCase()}`;
  if (!state.people.has(key)) {
    state.people.set(key, conversation(key, name));
    renderSidebar();
  }
  return state.people.get(key);
}

function renamePerson(conv, name) {
  state.people.delete(conv.key);
  conv.key = `@${name.toLowerCase()}`;
  conv.name = name;
  state.people.set(conv.key, conv);
  if (conv === state.active) renderHead();
  renderSidebar();
}

function active() {
  return state.active || state.lobby;
}

// Shows a conversation: its messages, members and title; clears its unread
// count, and asks for its members (the page's own budget pays).
function open(conv) {
  state.active = conv;
  conv.unread = 0;
  conv.mention = false;
  el.sidebar.classList.remove('open');
  el.menu.setAttribute('aria-expanded', 'false');
  renderHead();
  renderEntries();
  renderMembers();
  renderSidebar();
  if (conv.room) api('/api/members', { room: conv.name });
}

// Alt+Up and Alt+Down: the conversation before or after this one.
function step(by) {
  const all = [...state.rooms.values(), ...state.people.values()];
  if (all.length === 0) return;
  const at = all.indexOf(state.active);
  open(all[(at + by + all.length) % all.length]);
}

// A message from someone else: stored, counted unread unless it is in
// plain view, announced to screen readers, and notified if it is for us.
function incoming(conv, from, text, time, action) {
  const mention = conv.room && mentions(text);
  const entry = add(conv, { kind: 'msg', from, text, time, action, mention });
  if (!entry) return;
  const seen = conv === state.active && !document.hidden;
  if (!seen) {
    conv.unread += 1;
    conv.mention = conv.mention || mention;
    renderSidebar();
  }
  el.announce.textContent = `${from}${conv.room ? ` in ${conv.name}` : ''}: ${text}`;
  if ((mention || !conv.room) && document.hidden) notify(conv, from, text);
}

// Whether a text names us, as a word of its own.
function mentions(text) {
  if (!state.me) return false;
  // Names are made of A-Z a-z 0-9 _ -, none of them special in a pattern.
  return new RegExp(`(^|[^A-Za-z0-9_-])${state.me}($|[^A-Za-z0-9_-])`, 'i').test(text);
}

// A notice in a conversation: joins, leaves, replies, errors.
function note(conv, text, tone = '') {
  add(conv, { kind: 'note', text, tone, time: new Date() });
}

// What tells one message from another: times are whole seconds, so two
// alike in one second count as one (rare, and harmless).
const keyOf = (m) => `${m.time.getTime()}|${m.from}|${m.text}`;

// Adds an entry to a conversation (and to the screen, if it is shown);
// null for a message seen already (a replay of what we have).
function add(conv, entry) {
  if (entry.kind === 'msg' && !entry.own) {
    entry.key = keyOf(entry);
    if (conv.seen.has(entry.key)) return null;
    conv.seen.add(entry.key);
  }
  conv.entries.push(entry);
  if (conv.entries.length > MAX_ENTRIES) conv.entries.shift();
  if (conv === state.active) appendEntry(entry, conv.entries[conv.entries.length - 2]);
  return entry;
}

// A replay (on joining, or "load earlier"): the messages we lack, put in
// their places. The replay is in order, so a message we lack goes just
// before the next one we have, or just after the last one we had; with
// none to go by, by its time.
function merge(conv, messages) {
  const earlier = conv.earlier === 'asking';
  const replay = messages.map((m) => ({ kind: 'msg', ...m, time: new Date(m.time) }));
  replay.forEach((entry) => { entry.key = keyOf(entry); });
  const where = (key) => conv.entries.findIndex((e) => e.key === key);
  let at = -1;
  let added = 0;
  replay.forEach((entry, i) => {
    if (conv.seen.has(entry.key)) {
      at = where(entry.key) + 1;
      return;
    }
    if (at === -1) {
      const next = replay.slice(i + 1).find((later) => conv.seen.has(later.key));
      at = next ? where(next.key) : conv.entries.findIndex((e) => e.time > entry.time);
      if (at === -1) at = conv.entries.length;
    }
    conv.seen.add(entry.key);
    conv.entries.splice(at, 0, entry);
    at += 1;
    added += 1;
  });
  if (earlier) conv.earlier = added === 0 ? 'none' : 'more';
  if (conv === state.active) renderEntries(earlier);
}

// --- Drawing ----------------------------------------------------------------

function renderHead() {
  const conv = active();
  el.title.textContent = conv.room || conv === state.lobby ? conv.name : `@${conv.name}`;
  el.topic.textContent = conv.topic || '';
  el.leave.hidden = !conv.room;
  el.membersToggle.hidden = !conv.room;
  el.membersPane.hidden = !conv.room;
  el.line.placeholder = conv.room ? `Message ${conv.name}` : conv === state.lobby
    ? 'Type /join room, or /help' : `Message ${conv.name}`;
}

// Rebuilds the message list of the conversation shown. `keepPlace` holds
// the view still while older messages are added above it.
function renderEntries(keepPlace = false) {
  const conv = active();
  const fromBottom = el.scroll.scrollHeight - el.scroll.scrollTop;
  const items = [];
  conv.entries.forEach((entry, i) => items.push(...entryItems(entry, conv.entries[i - 1])));
  el.messages.replaceChildren(...items);
  const earlier = conv.room && conv.entries.length > 0;
  el.earlier.hidden = !earlier;
  el.earlier.disabled = conv.earlier !== 'more';
  el.earlier.textContent = { more: 'Load earlier messages', asking: 'Loading…',
    none: 'No earlier messages' }[conv.earlier];
  el.scroll.scrollTop = keepPlace ? el.scroll.scrollHeight - fromBottom : el.scroll.scrollHeight;
}

// Appends one entry, following the end of the list unless the user has
// scrolled up to read.
function appendEntry(entry, before) {
  const atBottom = el.scroll.scrollHeight - el.scroll.scrollTop - el.scroll.clientHeight < 60;
  el.messages.append(...entryItems(entry, before));
  while (el.messages.childElementCount > MAX_ENTRIES * 1.2) el.messages.firstElementChild.remove();
  el.earlier.hidden = !active().room;
  if (atBottom || entry.own) el.scroll.scrollTop = el.scroll.scrollHeight;
}

// The <li>s for an entry: a day separator first when the day changes.
function entryItems(entry, before) {
  const items = [];
  if (!before || day(before.time) !== day(entry.time)) {
    const sep = li('day');
    sep.textContent = dayName(entry.time);
    items.push(sep);
  }
  items.push(entry.kind === 'msg' ? messageItem(entry) : noteItem(entry));
  return items;
}

function messageItem(entry) {
  const item = li('msg');
  item.classList.toggle('action', Boolean(entry.action));
  item.classList.toggle('mention', Boolean(entry.mention));
  const name = span(`name hue-${hue(entry.from)}`, entry.from);
  const text = span('text');
  text.append(...linkify(entry.text));
  item.append(clock(entry.time), ' ', name, entry.action ? ' ' : ': ', text);
  if (entry.own) {
    item.classList.add('own');
    item.dataset.status = entry.status;
    const status = span('state', entry.status === 'failed'
      ? `not sent: ${entry.error}` : entry.status === 'sending' ? 'sending…' : '');
    item.append(status);
    entry.item = item; // to mark it sent or failed when the answer comes
  }
  return item;
}

function noteItem(entry) {
  const item = li(`note ${entry.tone}`);
  item.append(clock(entry.time), ' ', span('text', entry.text));
  return item;
}

// Text with its http(s) links made clickable, built from nodes: a link
// is an <a> whose text is the address, never markup from the message.
function linkify(text) {
  const nodes = [];
  let last = 0;
  for (const match of text.matchAll(LINK)) {
    const url = match[0].replace(/[.,;:!?)\]]+$/, ''); // punctuation after it
    nodes.push(text.slice(last, match.index));
    const a = document.createElement('a');
    a.href = url;
    a.textContent = url;
    a.rel = 'noopener noreferrer';
    a.target = '_blank';
    nodes.push(a);
    last = match.index + url.length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

function clock(time) {
  const t = document.createElement('time');
  t.dateTime = time.toISOString();
  t.title = time.toLocaleString();
  t.textContent = time.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return t;
}

const day = (time) => time.toDateString();

function dayName(time) {
  const today = new Date();
  const yesterday = new Date(today.getTime() - 86400000);
  if (day(time) === day(today)) return 'Today';
  if (day(time) === day(yesterday)) return 'Yesterday';
  return time.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
}

function li(className) {
  const item = document.createElement('li');
  item.className = className;
  return item;
}

function span(className, text = '') {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

// One of six colours picked from a name, the same for the same name.
function hue(name) {
  let hash = 0;
  for (const ch of name.toLowerCase()) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return hash % 6;
}

// What a room operator changed, in the words a terminal shows.
function roomChange(e) {
  const by = e.by || 'the server';
  switch (`${e.change} ${e.on}`) {
    case 'operator true': return e.by ? `${by} made ${e.name} an operator` : `${e.name} is now an operator`;
    case 'operator false': return `${by} removed ${e.name} from the operators`;
    case 'voice true': return `${by} gave ${e.name} a voice`;
    case 'voice false': return `${by} took ${e.name}'s voice`;
    case 'ban true': return `${by} banned ${e.name}`;
    case 'ban false': return `${by} lifted the ban on ${e.name}`;
    case 'topic_lock true': return `${by} locked the topic: only operators may set it`;
    case 'topic_lock false': return `${by} unlocked the topic`;
    case 'moderated true': return `${by} moderated the room: only operators and voiced members may speak`;
    default: return `${by} ended the moderation of the room`;
  }
}

function setMembers(conv, members) {
  const unique = new Map(members.map((m) => [m.name.toLowerCase(), m]));
  conv.members = [...unique.values()].sort((a, b) => a.name.localeCompare(b.name));
  if (conv === state.active) renderMembers();
}

// The members of the room shown; a click on a name opens a direct thread.
function renderMembers() {
  const conv = active();
  const members = conv.members || [];
  el.membersToggle.textContent = `Members (${members.length + conv.more})`;
  const items = members.map((m) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'member';
    button.dataset.name = m.name;
    // `@alice` for an operator, `+bob` for a voiced member, as on a terminal.
    button.textContent = `${m.op ? '@' : m.voice ? '+' : ''}${m.name}`;
    if (m.op) button.title = 'room operator';
    if (m.name === state.me) button.classList.add('me');
    const item = li('');
    item.append(button);
    return item;
  });
  if (conv.more) items.push(Object.assign(li('hint'), { textContent: `and ${conv.more} more` }));
  el.members.replaceChildren(...items);
}

// The three lists of the sidebar, and the unread count in the tab's title.
function renderSidebar() {
  el.myRooms.replaceChildren(...[...state.rooms.values()].map(sidebarItem));
  el.people.replaceChildren(...[...state.people.values()].map(sidebarItem));
  el.noPeople.hidden = state.people.size > 0;
  const others = state.directory.filter((r) => !state.rooms.has(`#${r.room}`));
  el.directory.replaceChildren(...others.map((r) => {
    const item = li('');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.join = r.room;
    button.append(span('label', `#${r.room}`), span('count', String(r.members)));
    button.title = `Join #${r.room} (${r.members} ${r.members === 1 ? 'member' : 'members'})`;
    item.append(button);
    return item;
  }));
  const all = [...state.rooms.values(), ...state.people.values()];
  const unread = all.reduce((sum, conv) => sum + conv.unread, 0);
  document.title = unread > 0 ? `(${unread}) lanchat` : 'lanchat';
  el.menuUnread.textContent = String(unread);
  el.menuUnread.hidden = unread === 0;
}

function sidebarItem(conv) {
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.key = conv.key;
  button.append(span('label', conv.room ? conv.name : `@${conv.name}`));
  if (conv.unread > 0) {
    const badge = span('badge', String(conv.unread));
    badge.setAttribute('aria-label', `${conv.unread} unread`);
    button.append(badge);
  }
  button.classList.toggle('mention', conv.mention);
  if (conv === state.active) button.setAttribute('aria-current', 'true');
  const item = li('');
  item.append(button);
  return item;
}

// --- Step 3: sending --------------------------------------------------------

el.send.addEventListener('submit', (event) => {
  event.preventDefault();
  const line = el.line.value;
  if (line.trim() === '' || state.token === null) return;
  el.line.value = '';
  const conv = active();
  const own = ownEcho(line.trim(), conv);
  // `@erin hi` typed anywhere opens the thread with erin, as it goes there.
  if (own && own.conv !== conv) open(own.conv);
  const entry = own && add(own.conv, {
    kind: 'msg', own: true, from: state.me, text: own.text, action: own.action,
    time: new Date(), status: 'sending',
  });
  const to = conv === state.lobby ? '' : conv.room ? conv.name : `@${conv.name}`;
  api('/api/send', { line, to }, true).then((answer) => {
    if (!entry) {
      if (!answer.ok) note(conv, answer.error, 'error');
      return;
    }
    entry.status = answer.ok ? 'sent' : 'failed';
    entry.error = answer.error;
    if (entry.item) entry.item.replaceWith(messageItem(entry));
  });
});

// Where our own line shows up, and as what: plain text and /me in the
// conversation shown, `#room text` and `@name text` in theirs; null for
// other commands (their effects come on the stream, their errors in the
// answer).
function ownEcho(line, conv) {
  let m;
  if ((m = /^\/me\s+(.+)$/i.exec(line)) && conv !== state.lobby) {
    return { conv, text: m[1], action: true };
  }
  if (line.startsWith('/')) return null;
  if ((m = /^#(\S+)\s+(.+)$/.exec(line))) {
    const target = state.rooms.get(`#${m[1].toLowerCase()}`);
    return target ? { conv: target, text: m[2] } : null;
  }
  if ((m = /^@(\S+)\s+(.+)$/.exec(line))) return { conv: person(m[1]), text: m[2] };
  return conv === state.lobby ? null : { conv, text: line };
}

// POSTs a request of the API, after any still in flight (one after another,
// so `/join dev` then `hello` arrive in that order). Resolves to its JSON
// answer, or to { ok: false, error } when there is none.
function api(path, fields, user = false) {
  const token = state.token;
  const result = state.sendQueue.then(async () => {
    if (token === null || state.token !== token) return { ok: false, error: 'not connected' };
    try {
      const response = await post(path, { token, ...fields });
      if (response.status === 401 && state.token === token) backToLogin(GONE);
      const body = await response.text();
      try {
        return JSON.parse(body);
      } catch (error) {
        return { ok: false, error: body.replace(/^! /, '').trim() || `HTTP ${response.status}` };
      }
    } catch (error) {
      return { ok: false, error: 'cannot reach the server' };
    }
  });
  // One failure must not stop the queue; the page's own requests do not
  // hold up the user's lines for longer than they take.
  state.sendQueue = result.catch(() => null);
  if (!user) result.then((answer) => answer.ok || console.debug(path, answer.error));
  return result;
}

function post(path, fields) {
  return fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: Object.entries(fields)
      .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
      .join('&'),
  });
}

function askRooms() {
  api('/api/rooms', {});
}

// --- What the user clicks and presses -----------------------------------------

el.sidebar.addEventListener('click', (event) => {
  const button = event.target.closest('button');
  if (!button) return;
  const key = button.dataset.key;
  if (key) open(state.rooms.get(key) || state.people.get(key));
  if (button.dataset.join) api('/api/send', { line: `/join ${button.dataset.join}` }, true);
  el.line.focus();
});

el.members.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-name]');
  if (button && button.dataset.name !== state.me) open(person(button.dataset.name));
  el.line.focus();
});

el.refreshRooms.addEventListener('click', askRooms);

el.leave.addEventListener('click', () => {
  if (active().room) api('/api/send', { line: '/leave', to: active().name }, true);
});

el.membersToggle.addEventListener('click', () => {
  const shown = el.membersPane.classList.toggle('shown');
  el.membersToggle.setAttribute('aria-expanded', String(shown));
});

el.menu.addEventListener('click', () => {
  const shown = el.sidebar.classList.toggle('open');
  el.menu.setAttribute('aria-expanded', String(shown));
});

// "Load earlier messages": /history for more than we have (up to the
// server's 200), merged in by `replay`.
el.earlier.addEventListener('click', () => {
  const conv = active();
  const have = conv.entries.filter((e) => e.kind === 'msg').length;
  const count = Math.min(have + HISTORY_STEP, HISTORY_MAX);
  if (!conv.room || conv.earlier !== 'more') return;
  conv.earlier = have >= HISTORY_MAX ? 'none' : 'asking';
  renderEntries(true);
  if (conv.earlier === 'asking') {
    api('/api/send', { line: `/history ${count}`, to: conv.name }, true).then((answer) => {
      if (answer.ok || conv.earlier !== 'asking') return;
      conv.earlier = 'none'; // `no history for #dev`: nothing earlier
      if (conv === state.active) renderEntries(true);
    });
  }
});

document.addEventListener('keydown', (event) => {
  if (event.altKey && (event.key === 'ArrowUp' || event.key === 'ArrowDown')) {
    event.preventDefault();
    step(event.key === 'ArrowUp' ? -1 : 1);
    el.line.focus();
  } else if (event.key === 'Escape' && event.target === el.line) {
    el.line.value = '';
  }
});

// Back to the tab: what was unread in the conversation shown is read now.
document.addEventListener('visibilitychange', () => {
  if (document.hidden || !state.active) return;
  state.active.unread = 0;
  state.active.mention = false;
  renderSidebar();
});

// --- Desktop notifications --------------------------------------------------

// Browsers show notifications only on secure origins (https, or
// http://localhost), and only after the user allowed them with a click of
// their own. Elsewhere the count in the tab's title is the signal.
function mayAskToNotify() {
  return 'Notification' in window && window.isSecureContext && Notification.permission === 'default';
}

el.notify.addEventListener('click', () => {
  Notification.requestPermission().finally(() => { el.notify.hidden = true; });
});

function notify(conv, from, text) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  const title = conv.room ? `${from} in ${conv.name}` : from;
  const shown = new Notification(title, { body: text, tag: conv.key });
  shown.onclick = () => { window.focus(); open(conv); };
}

// Closing or reloading the tab logs out at once: only a dropped
// connection should get the server's grace period.
window.addEventListener('pagehide', () => {
  if (state.token === null) return;
  const body = new URLSearchParams({ token: state.token, line: '/quit' });
  navigator.sendBeacon('/api/send', body);
});

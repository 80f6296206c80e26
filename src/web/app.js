// lanchat in the browser: the same line protocol as the terminal client
// (docs/PROTOCOL.md), carried over HTTP instead of one TCP connection.
//
// The flow, in three steps:
//
// 1. Login.  POST /api/login with the name (and the password, once the server
//    has said the name needs one). The answer is a session token: a short
//    string that stands for this one chat session. Errors come back as one
//    protocol line, such as `! the name alice is taken`.
// 2. Events. GET /api/events?token=T, read with EventSource (Server-Sent
//    Events). Each event's data is exactly one line the terminal client
//    would print: the hello line, the history replay, then live traffic. The
//    stream ends when the session does (/quit, a kick, a server shutdown);
//    after that the token is dead and a new login is needed.
// 3. Send.   POST /api/send with the token and the line exactly as typed.
//    The server answers 204 No Content; what the line causes comes back on
//    the event stream, as in the terminal. The server does not echo your own
//    messages to you, so the page shows them itself.
//
// Why textContent everywhere: every line from the chat is text typed by
// someone else. It reaches the page only through textContent and
// createElement, never innerHTML, so a message like `<img src=x onerror=...>`
// shows up as those characters instead of becoming an element. The server's
// Content-Security-Policy would also refuse to run injected script; not
// parsing chat text as HTML in the first place is the real defence, the CSP
// is the second wall.

'use strict';

// --- Settings ---------------------------------------------------------------

// Keep at most this many lines in the message list, so a long session does
// not grow the page's memory forever. The oldest lines go first.
const MAX_MESSAGES = 1000;

// The room and user lists are refreshed by sending /rooms and /users. A burst
// of join notices must not turn into a burst of requests (the server allows
// 10 lines a second, bursts of 20, and answers `! slow down`), so refreshes
// are at least this far apart.
const REFRESH_INTERVAL_MS = 300;

// A reply to an automatic /rooms or /users normally arrives within
// milliseconds. If it never comes (the server dropped the request with
// `! slow down`), forget the request after this long, so that a later /rooms
// typed by the user is not swallowed in its place.
const AUTO_REPLY_TIMEOUT_MS = 5000;

const STATUS_TEXT = {
  connecting: 'connecting…',
  open: 'connected',
  closed: 'disconnected',
};

// --- The page's elements ------------------------------------------------------

const $ = (id) => document.getElementById(id);
const el = {
  status: $('status'),
  loginView: $('login-view'),
  loginForm: $('login'),
  loginHint: $('login-hint'),
  name: $('name'),
  passwordRow: $('password-row'),
  password: $('password'),
  loginButton: $('login-button'),
  signupToggle: $('signup-toggle'),
  repeatRow: $('repeat-row'),
  repeat: $('repeat'),
  loginError: $('login-error'),
  chatView: $('chat-view'),
  rooms: $('rooms'),
  users: $('users'),
  messages: $('messages'),
  sendForm: $('send'),
  line: $('line'),
  sendButton: document.querySelector('#send button'),
};

// --- What the page knows about the session ------------------------------------

const state = {
  token: null, // the session token; null when logged out
  events: null, // the EventSource of the session
  wasOpen: false, // whether the event stream ever opened
  myName: null, // from the hello line and `* you are now known as ...`
  currentRoom: null, // where plain text goes; null when unknown
  joined: new Set(), // the rooms we know we are in
  rooms: [], // [{ name, count }] from the last `* rooms: ...`
  users: [], // names from the last `* online: ...`
  // Send times of automatic /rooms and /users requests whose reply has not
  // arrived yet. Their replies update the sidebar without cluttering the
  // message list.
  pending: { rooms: [], users: [] },
  lastRefresh: 0, // when /rooms and /users were last sent automatically
  refreshTimer: null, // a refresh waiting for REFRESH_INTERVAL_MS to pass
  // Lines are POSTed one after another, never two at once: two requests in
  // flight may reach the server in either order, and `/join dev` followed by
  // `hello` must arrive in that order.
  sendQueue: Promise.resolve(),
};

// --- Step 1: login ------------------------------------------------------------

// "Create account" turns the form into a sign-up (name, password, repeat,
// sent to POST /api/signup) and back. The server checks every rule and
// answers in the same words as the terminal's sign-up.
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

el.loginForm.addEventListener('submit', async (event) => {
  event.preventDefault(); // handle the form here instead of navigating
  const fields = { name: el.name.value.trim() };
  if (!el.passwordRow.hidden && el.password.value !== '') {
    fields.password = el.password.value;
  }
  if (signingUp) {
    fields.password = el.password.value;
    fields.repeat = el.repeat.value;
  }

  el.loginButton.disabled = true;
  el.loginError.textContent = '';
  try {
    const response = await fetch(signingUp ? '/api/signup' : '/api/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: formEncode(fields),
    });
    const body = (await response.text()).trim();
    if (response.ok && body !== '') {
      startSession(body);
      return;
    }
    // The server explains a refusal in one protocol line (`! ...`).
    el.loginError.textContent = body || `! login failed (HTTP ${response.status})`;
    if (response.status === 401 && body.startsWith('! password required')) {
      // The name is registered: ask for the password and let the user retry.
      el.passwordRow.hidden = false;
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

// --- Step 2: the event stream -------------------------------------------------

// Starts a session with a fresh token: clears what the last session left,
// shows the chat and opens the event stream.
function startSession(token) {
  state.token = token;
  state.wasOpen = false;
  state.myName = null;
  state.currentRoom = null;
  state.joined.clear();
  state.rooms = [];
  state.users = [];
  state.pending = { rooms: [], users: [] };
  state.lastRefresh = 0;
  el.messages.replaceChildren();
  renderRooms();
  renderUsers();

  el.password.value = ''; // do not keep the password in the page
  el.repeat.value = '';
  el.loginError.textContent = '';
  el.loginHint.hidden = true;
  el.loginView.hidden = true;
  el.chatView.hidden = false;
  el.line.disabled = false;
  el.sendButton.disabled = false;
  el.line.focus();
  setStatus('connecting');

  const events = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
  state.events = events;
  events.onopen = () => {
    if (state.events !== events) return; // an old session's stream
    state.wasOpen = true;
    setStatus('open');
  };
  events.onmessage = (event) => {
    if (state.events !== events) return;
    receiveLine(event.data);
  };
  events.onerror = () => {
    if (state.events !== events) return;
    // EventSource reconnects by itself after a dropped connection. Our token
    // belongs to one stream, though: once that stream has ended (the user
    // quit, was kicked, the server shut down) reconnecting would only fail
    // again and again. So we stop when the browser has given up (CLOSED,
    // e.g. the server answered 401) or when a stream that was open fails.
    if (events.readyState === EventSource.CLOSED || state.wasOpen) {
      endSession('Disconnected. Log in again to continue.');
    }
  };
}

// Ends the session: closes the stream, shows the status and offers the login
// form again. The messages stay on screen so the last lines can be read.
function endSession(hint) {
  if (state.token === null) return; // already ended
  state.token = null;
  if (state.events !== null) {
    state.events.close();
    state.events = null;
  }
  clearTimeout(state.refreshTimer);
  state.refreshTimer = null;
  state.currentRoom = null;
  renderRooms();
  setStatus('closed');

  el.line.disabled = true;
  el.sendButton.disabled = true;
  el.loginHint.textContent = hint;
  el.loginHint.hidden = false;
  el.loginView.hidden = false;
  el.name.focus();
}

function setStatus(connection) {
  el.status.dataset.state = connection;
  el.status.textContent = STATUS_TEXT[connection];
}

// One line from the server: update what we know, then show it, unless it is
// the reply to one of our own automatic /rooms or /users requests.
function receiveLine(line) {
  if (line.startsWith('* ')) {
    const shown = handleNotice(line.slice(2));
    if (!shown) return;
  }
  showMessage(parseLine(line));
  if (/^\* Bye \S+!$/.test(line)) {
    // The answer to /quit; the server closes the stream next.
    endSession('You left the chat. Log in again to come back.');
  }
}

// The notices that change the page's picture of the chat. Returns false
// when the line should not be shown.
//
// A limit of the protocol: a user may be called `you`, and then
// `* you joined #dev` from them reads like our own join. The page cannot tell
// the two apart; a richer protocol would use separate message kinds.
function handleNotice(text) {
  let m;
  if ((m = /^Hello ([A-Za-z0-9_-]+)! You are in #([a-z0-9_-]+)\./.exec(text))) {
    state.myName = m[1];
    state.joined.add(m[2]);
    state.currentRoom = m[2];
    renderRooms();
    scheduleRefresh();
  } else if ((m = /^(\S+) joined #([a-z0-9_-]+)$/.exec(text))) {
    if (m[1] === 'you') {
      state.joined.add(m[2]);
      state.currentRoom = m[2];
      renderRooms();
    }
    scheduleRefresh();
  } else if ((m = /^you are now talking in #([a-z0-9_-]+)$/.exec(text))) {
    state.joined.add(m[1]);
    state.currentRoom = m[1];
    renderRooms();
    scheduleRefresh();
  } else if ((m = /^(\S+) left #([a-z0-9_-]+)( \(kicked\))?$/.exec(text))) {
    if (m[1] === 'you') {
      state.joined.delete(m[2]);
      // The server moves us to another room, but the page does not guess
      // which: until the next `* you joined` / `* you are now talking in`,
      // no room is highlighted and plain text is not echoed locally.
      if (state.currentRoom === m[2]) state.currentRoom = null;
      renderRooms();
    }
    scheduleRefresh();
  } else if ((m = /^you are now known as (\S+)$/.exec(text))) {
    state.myName = m[1];
    scheduleRefresh();
  } else if (/^\S+ is now known as \S+$/.test(text)) {
    scheduleRefresh();
  } else if ((m = /^rooms: (.*)$/.exec(text))) {
    state.rooms = parseRooms(m[1]);
    renderRooms();
    return !takePending('rooms');
  } else if ((m = /^online: (.*)$/.exec(text))) {
    state.users = m[1].split(', ').filter((name) => name !== '');
    renderUsers();
    return !takePending('users');
  }
  return true;
}

// `#dev (1), #general (3)` → [{ name: 'dev', count: 1 }, ...]; `none` → [].
function parseRooms(list) {
  const rooms = [];
  for (const item of list.split(', ')) {
    const m = /^#([A-Za-z0-9_-]+) \((\d+)\)$/.exec(item);
    if (m) rooms.push({ name: m[1], count: Number(m[2]) });
  }
  return rooms;
}

// Whether a reply answers one of our automatic requests (and if so, counts
// that request as answered).
function takePending(kind) {
  const sent = state.pending[kind];
  const now = Date.now();
  while (sent.length > 0 && now - sent[0] > AUTO_REPLY_TIMEOUT_MS) sent.shift();
  if (sent.length === 0) return false;
  sent.shift();
  return true;
}

// --- The sidebar: rooms and users ---------------------------------------------

// Asks for fresh room and user lists soon, at most once per
// REFRESH_INTERVAL_MS however many notices arrive.
function scheduleRefresh() {
  if (state.refreshTimer !== null || state.token === null) return;
  const wait = Math.max(0, state.lastRefresh + REFRESH_INTERVAL_MS - Date.now());
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    if (state.token === null) return;
    state.lastRefresh = Date.now();
    sendAutomatic('rooms', '/rooms');
    sendAutomatic('users', '/users');
  }, wait);
}

function sendAutomatic(kind, line) {
  const sentAt = Date.now();
  state.pending[kind].push(sentAt);
  postLine(line).then((ok) => {
    if (ok) return;
    // Not delivered, so no reply will come: stop waiting for one.
    const sent = state.pending[kind];
    const index = sent.indexOf(sentAt);
    if (index !== -1) sent.splice(index, 1);
  });
}

function renderRooms() {
  el.rooms.replaceChildren(
    ...state.rooms.map(({ name, count }) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.room = name;
      button.textContent = `#${name} (${count})`;
      if (state.joined.has(name)) button.classList.add('joined');
      if (name === state.currentRoom) {
        button.classList.add('current');
        button.setAttribute('aria-current', 'true');
      }
      const item = document.createElement('li');
      item.append(button);
      return item;
    }),
  );
}

function renderUsers() {
  const me = (state.myName || '').toLowerCase();
  el.users.replaceChildren(
    ...state.users.map((name) => {
      const item = document.createElement('li');
      item.textContent = name;
      if (name.toLowerCase() === me) item.classList.add('me');
      return item;
    }),
  );
}

// A click on a room joins it, or makes it current if we are already in it:
// `/join` does both.
el.rooms.addEventListener('click', (event) => {
  const button = event.target.closest('button[data-room]');
  if (button === null || state.token === null) return;
  postLine(`/join ${button.dataset.room}`);
  el.line.focus();
});

// --- The message list ---------------------------------------------------------

// Splits a protocol line into its parts: { kind, room, name, text }. The
// kinds are the table "What the server sends" in docs/PROTOCOL.md. Names and
// rooms use only A-Z a-z 0-9 _ -, which keeps these patterns unambiguous:
// `[#general] * alice waves` cannot be read as a message from `*`.
function parseLine(line) {
  let m;
  if (line.startsWith('* ')) return { kind: 'notice', text: line };
  if (line.startsWith('! ')) return { kind: 'error', text: line };
  if ((m = /^\[#([A-Za-z0-9_-]+)\] \* ([A-Za-z0-9_-]+) (.*)$/.exec(line))) {
    return { kind: 'action', room: m[1], name: m[2], text: m[3] };
  }
  if ((m = /^\[#([A-Za-z0-9_-]+)\] ([A-Za-z0-9_-]+): (.*)$/.exec(line))) {
    return { kind: 'room', room: m[1], name: m[2], text: m[3] };
  }
  if ((m = /^\[DM\] ([A-Za-z0-9_-]+): (.*)$/.exec(line))) {
    return { kind: 'dm', name: m[1], text: m[2] };
  }
  if ((m = /^\[server\] (.*)$/.exec(line))) {
    return { kind: 'server', text: m[1] };
  }
  return { kind: 'other', text: line }; // not in the protocol: show as is
}

// Builds the <li> for a parsed line and appends it. The <li>'s text is the
// protocol line itself (for our own DMs: `[DM] → bob: text`); spans only
// mark its parts for the stylesheet. `own` marks a line echoed locally.
function showMessage(message, own = false) {
  const item = document.createElement('li');
  item.classList.add(message.kind);
  if (own) item.classList.add('own');

  switch (message.kind) {
    case 'room':
      item.dataset.room = message.room;
      item.append(span('room-tag', `[#${message.room}]`), ' ', nameSpan(message.name), ': ', span('text', message.text));
      break;
    case 'action':
      item.dataset.room = message.room;
      item.append(span('room-tag', `[#${message.room}]`), ' * ', nameSpan(message.name), ' ', span('text', message.text));
      break;
    case 'dm':
      item.append(span('dm-tag', '[DM]'), own ? ' → ' : ' ', nameSpan(message.name), ': ', span('text', message.text));
      break;
    case 'server':
      item.append(span('server-tag', '[server]'), ' ', span('text', message.text));
      break;
    default: // notice, error, other: the whole line as it came
      item.textContent = message.text;
  }
  appendMessage(item, own);
}

// A <span> holding plain text. textContent never parses HTML.
function span(className, text) {
  const s = document.createElement('span');
  s.className = className;
  s.textContent = text;
  return s;
}

// A sender's name, with one of six colours picked from the name so that a
// conversation is easier to follow. The same name always gets the same one.
function nameSpan(name) {
  let hash = 0;
  for (const ch of name.toLowerCase()) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return span(`name hue-${hash % 6}`, name);
}

// Appends a line, drops the oldest beyond MAX_MESSAGES, and follows the end
// of the list, unless the user has scrolled up to read older lines.
function appendMessage(item, forceScroll) {
  const list = el.messages;
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.append(item);
  while (list.childElementCount > MAX_MESSAGES) list.firstElementChild.remove();
  if (atBottom || forceScroll) list.scrollTop = list.scrollHeight;
}

// A line made by the page itself (a failed request), shown as an error.
function showLocalError(text) {
  const item = document.createElement('li');
  item.className = 'error local';
  item.textContent = text;
  appendMessage(item, true);
}

// --- Step 3: sending ----------------------------------------------------------

el.sendForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const line = el.line.value;
  if (line.trim() === '' || state.token === null) return;
  el.line.value = '';
  postLine(line).then((ok) => {
    // Echo our own message once the server has taken it. The echo is worked
    // out now rather than when typed, so a `/join` sent just before has had
    // its chance to change the current room. A simplification: a line the
    // server accepted but then refused (`! bob is not online`,
    // `! slow down`) is echoed too; the error line follows it.
    const echo = ok ? ownEcho(line) : null;
    if (echo !== null) showMessage(echo, true);
  });
});

// POSTs one line, after any line still in flight. Resolves to true when the
// server took it (204); otherwise shows why and resolves to false.
function postLine(line) {
  const token = state.token;
  const result = state.sendQueue.then(async () => {
    if (token === null || state.token !== token) return false; // session over
    let response;
    try {
      response = await fetch('/api/send', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: formEncode({ token, line }),
      });
    } catch (error) {
      showLocalError('! cannot reach the server');
      return false;
    }
    if (response.ok) return true;
    if (state.token !== token) return false;
    if (response.status === 401) {
      endSession('Your session has ended. Log in again to continue.');
      return false;
    }
    // 413 (too big) and anything else: the server's `! ...` line if it sent
    // one, or a line of our own.
    const body = (await response.text()).trim();
    if (body.startsWith('! ')) showLocalError(body);
    else if (response.status === 413) showLocalError('! line too long');
    else showLocalError(`! could not send (HTTP ${response.status})`);
    return false;
  });
  state.sendQueue = result.catch(() => false); // one failure must not stop the queue
  return result;
}

// `a=1&b=2` with every value percent-encoded. encodeURIComponent writes a
// space as %20 and `+` as %2B, which every form decoder reads correctly
// (URLSearchParams would write a space as `+`, which needs a decoder that
// knows that form-encoding rule).
function formEncode(fields) {
  return Object.entries(fields)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
}

// --- The local echo -----------------------------------------------------------

// What the server would show others for a line we sent, as a parsed message,
// or null when there is nothing to echo. It follows the server's own parsing
// (Command::parse in src/protocol.rs): trim, then `/command`, `#room text`,
// `@name text`, or plain text for the current room.
function ownEcho(raw) {
  const line = sanitize(raw).trim();
  if (line === '' || isQuit(line)) return null;
  const me = state.myName || 'me';

  if (line.startsWith('/')) {
    // Of the slash commands only /me says something to others.
    const [command, action] = splitWord(line.slice(1));
    if (command.toLowerCase() !== 'me' || action === '' || state.currentRoom === null) return null;
    return { kind: 'action', room: state.currentRoom, name: me, text: action };
  }
  if (line.startsWith('#')) {
    const [target, text] = splitWord(line.slice(1));
    const room = target.replace(/^#/, '').toLowerCase();
    // The server refuses rooms we are not in; do not echo those.
    if (text === '' || !state.joined.has(room)) return null;
    return { kind: 'room', room, name: me, text };
  }
  if (line.startsWith('@')) {
    const [to, text] = splitWord(line.slice(1));
    if (to === '' || text === '') return null;
    return { kind: 'dm', name: to, text };
  }
  if (state.currentRoom === null) return null;
  return { kind: 'room', room: state.currentRoom, name: me, text: line };
}

// The server's clean-up of incoming lines: tabs become spaces, other control
// characters and invisible format characters (category Cf: bidi controls,
// zero widths) are removed.
function sanitize(text) {
  return text.replace(/\t/g, ' ').replace(/[\u0000-\u001f\u007f-\u009f]|\p{Cf}/gu, '');
}

// `/quit`, `quit` and `bye`, in any case, as the whole line.
function isQuit(line) {
  return ['/quit', 'quit', 'bye'].includes(line.toLowerCase());
}

// `word rest of line` → ['word', 'rest of line'].
function splitWord(text) {
  const m = /\s/.exec(text);
  if (m === null) return [text, ''];
  return [text.slice(0, m.index), text.slice(m.index + 1).trim()];
}

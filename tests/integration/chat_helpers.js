// Shared helpers for the chat application tests (docs/chat-protocol.md): a chat server
// per test, clients that record every event from before they connect (so nothing that
// arrives with the CONNECT is missed), exact-payload assertions, JSON over HTTP and
// HS256 tokens made with node's crypto.
"use strict";

const assert = require("node:assert");
const crypto = require("node:crypto");
const harness = require("./harness");
const h = require("./helpers");

const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** A chat server (`--app chat`, fresh `--db` unless opts.db) with extra flags. */
function startChat(extraArgs = [], opts = {}) {
  return harness.start(extraArgs, { ...opts, app: "chat" });
}

/**
 * Runs fn(server) against a fresh chat server, then closes every client and stops the
 * server (whatever fn did).
 */
async function withChat(extraArgs, fn, opts = {}) {
  const server = await startChat(extraArgs, opts);
  try {
    return await fn(server);
  } finally {
    await h.cleanup();
    await drained(server);
    await server.stop();
  }
}

/**
 * Best effort: waits (bounded) until /health shows no client left, so that closing
 * polling sessions do not slow down the server's stop.
 */
async function drained(server, timeoutMs = 1500) {
  if (server.exited()) return;
  try {
    await h.waitFor(
      async () => JSON.parse((await h.request(`${server.url}/health`, { timeoutMs: 500 })).body).connections === 0,
      timeoutMs,
      "clients gone",
    );
  } catch (_) {
    /* the stop will close whatever is left */
  }
}

// -- clients that keep an inbox ---------------------------------------------------------

/**
 * Gives socket an inbox: every event (onAny) is recorded from now on. take() consumes
 * the oldest unconsumed one of a name, so events that arrived before the test asked for
 * them are not lost, and none() sees events that arrived at any time.
 */
function withInbox(socket) {
  const events = []; // {event, args}
  const waiters = [];
  socket.onAny((event, ...args) => {
    events.push({ event, args });
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i];
      const idx = events.findIndex((e) => e.event === w.event && w.pred(...e.args));
      if (idx >= 0) {
        waiters.splice(i--, 1);
        const [e] = events.splice(idx, 1);
        w.resolve(e.args);
      }
    }
  });
  socket.inbox = {
    events,
    /** Resolves with the args of the oldest unconsumed `event` (matching pred), bounded. */
    take(event, timeoutMs = h.DEFAULT_TIMEOUT_MS, pred = () => true) {
      const idx = events.findIndex((e) => e.event === event && pred(...e.args));
      if (idx >= 0) return Promise.resolve(events.splice(idx, 1)[0].args);
      let waiter;
      const p = new Promise((resolve) => {
        waiter = { event, pred, resolve };
        waiters.push(waiter);
      });
      return h.withTimeout(p, timeoutMs, `'${event}' on ${socket.nsp} (${socket.id})`).catch((err) => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        const seen = events.map((e) => e.event).join(", ");
        err.message += `; unconsumed events: [${seen}]`;
        throw err;
      });
    },
    /** The args of every unconsumed `event` (matching pred), consumed. */
    drain(event, pred = () => true) {
      const out = [];
      for (let i = 0; i < events.length; i++) {
        if (events[i].event === event && pred(...events[i].args)) out.push(events.splice(i--, 1)[0].args);
      }
      return out;
    },
    count(event, pred = () => true) {
      return events.filter((e) => e.event === event && pred(...e.args)).length;
    },
    clear() {
      events.length = 0;
    },
  };
  return socket;
}

/** Not yet connected client with an inbox (see helpers.client for opts). */
// The transports a file's clients use unless a test names its own (set per describe, so
// that a whole suite runs over websocket and again over polling).
let defaultTransports;
function setDefaultTransports(transports) {
  defaultTransports = transports;
}

function chatClient(url, opts = {}) {
  const withDefault = defaultTransports && !opts.transports ? { transports: defaultTransports, ...opts } : opts;
  return withInbox(h.client(url, withDefault));
}

/** Connected client with an inbox. */
async function chatConnect(url, opts = {}) {
  return h.connected(chatClient(url, opts));
}

/**
 * Asserts that none of sockets receives `event` (a name or a list of names, matching
 * pred) within ms, counting events that arrived before the call; one shared wait.
 */
async function assertNone(sockets, event, ms = h.SETTLE_MS, pred = () => true) {
  const names = [].concat(event);
  await h.delay(ms);
  for (const s of [].concat(sockets)) {
    const got = s.inbox.events.filter((e) => names.includes(e.event) && pred(...e.args));
    assert.strictEqual(
      got.length,
      0,
      `${s.nsp} socket ${s.id} got unexpected ${JSON.stringify(got.map((e) => [e.event, ...e.args])).slice(0, 500)}`,
    );
  }
}

/** take() on each socket; resolves with the first argument each received. */
async function takeAll(sockets, event, timeoutMs = h.DEFAULT_TIMEOUT_MS, pred = () => true) {
  const all = await Promise.all(sockets.map((s) => s.inbox.take(event, timeoutMs, pred)));
  return all.map((args) => args[0]);
}

// -- payload assertions -------------------------------------------------------------------

function assertIso(value, what = "timestamp") {
  assert.strictEqual(typeof value, "string", `${what} is not a string: ${JSON.stringify(value)}`);
  assert.match(value, ISO_RE, `${what} is not ISO-8601 UTC with milliseconds`);
  const t = Date.parse(value);
  assert.ok(Math.abs(Date.now() - t) < 10 * 60 * 1000, `${what} ${value} is not close to now`);
}

/** A presence member without its connected_at, which is checked to be an ISO time. */
function member(m) {
  assertIso(m.connected_at, `${m.user_id}'s connected_at`);
  const { connected_at: _, ...rest } = m;
  return rest;
}

/** Asserts obj is a plain object with exactly the given keys. */
function assertKeys(obj, keys, what = "payload") {
  assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `${what} is not an object: ${JSON.stringify(obj)}`);
  assert.deepStrictEqual(Object.keys(obj).sort(), [...keys].sort(), `${what} keys: ${JSON.stringify(obj)}`);
}

/** Asserts obj has every key of required and nothing outside required + optional. */
function assertKeysWithin(obj, required, optional, what = "payload") {
  assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `${what} is not an object: ${JSON.stringify(obj)}`);
  for (const k of required) assert.ok(k in obj, `${what} lacks '${k}': ${JSON.stringify(obj)}`);
  for (const k of Object.keys(obj)) {
    assert.ok(required.includes(k) || optional.includes(k), `${what} has unexpected '${k}': ${JSON.stringify(obj)}`);
  }
}

const MESSAGE_REQUIRED = ["id", "_id", "conversationId", "senderId", "content", "type", "createdAt", "deleted", "deliveredTo", "readBy"];
const MESSAGE_OPTIONAL = ["fileUrl", "fileName", "editedAt"];

/**
 * Asserts a stored conversation message document (§2): its fields, and that it matches
 * `expected` ({conversationId, senderId, content, type, ...}).
 */
function assertMessageDoc(m, expected = {}) {
  assertKeysWithin(m, MESSAGE_REQUIRED, MESSAGE_OPTIONAL, "message");
  assert.ok(typeof m.id === "string" || typeof m.id === "number", `message id: ${JSON.stringify(m.id)}`);
  assert.ok(String(m.id).length > 0, "empty message id");
  assert.strictEqual(m._id, m.id, "_id must equal id");
  assertIso(m.createdAt, "createdAt");
  assert.strictEqual(typeof m.deleted, "boolean");
  assert.ok(Array.isArray(m.deliveredTo), "deliveredTo is not an array");
  assert.ok(Array.isArray(m.readBy), "readBy is not an array");
  for (const [k, v] of Object.entries(expected)) assert.deepStrictEqual(m[k], v, `message.${k}`);
}

// -- HTTP ------------------------------------------------------------------------------

/**
 * JSON request: body (an object) is sent as JSON; resolves with {status, headers, body,
 * json} (json undefined when the body is not JSON); timeoutMs bounds it (helpers.request).
 */
async function httpJson(url, { method = "GET", headers = {}, body, timeoutMs } = {}) {
  const hdrs = { ...headers };
  let data;
  if (body !== undefined) {
    data = typeof body === "string" ? body : JSON.stringify(body);
    hdrs["Content-Type"] = hdrs["Content-Type"] || "application/json";
    hdrs["Content-Length"] = Buffer.byteLength(data);
  }
  const res = await h.request(url, { method, headers: hdrs, body: data, timeoutMs });
  let json;
  try {
    json = JSON.parse(res.body);
  } catch (_) {
    json = undefined;
  }
  return { ...res, json };
}

/** GET /api/conversations/{id}/messages with an optional query {before, limit}. */
async function history(baseUrl, conversationId, query = {}, headers = {}) {
  const qs = new URLSearchParams(query).toString();
  const url = `${baseUrl}/api/conversations/${encodeURIComponent(conversationId)}/messages${qs ? `?${qs}` : ""}`;
  const res = await httpJson(url, { headers });
  assert.strictEqual(res.status, 200, `GET ${url}: ${res.status} ${res.body}`);
  return res.json;
}

/** sendMessage with an ack; resolves with the ack, or rejects after timeoutMs. */
function sendMessage(socket, conversationId, senderId, content, timeoutMs = 8000) {
  return new Promise((resolve, reject) =>
    socket
      .timeout(timeoutMs)
      .emit("sendMessage", { conversationId, senderId, content, type: "text" }, (err, ack) =>
        err ? reject(new Error(`no ack for ${content}: ${err.message}`)) : resolve(ack),
      ),
  );
}

/** Every message of a conversation, newest first, read on the server at baseUrl. */
async function fullHistory(baseUrl, conversationId) {
  const out = [];
  let before;
  for (let pages = 0; pages < 100; pages++) {
    const page = await history(baseUrl, conversationId, before ? { limit: 100, before } : { limit: 100 });
    out.push(...page.messages);
    if (!page.nextBefore) return out;
    before = page.nextBefore;
  }
  throw new Error(`${conversationId}: the history does not end`);
}

/** The socket ids GET /api/connections lists as active (the API key's request). */
async function activeSocketIds(baseUrl, apiKey) {
  const res = await httpJson(`${baseUrl}/api/connections`, { headers: { "x-api-key": apiKey } });
  assert.strictEqual(res.status, 200, res.body);
  return new Set(res.json.connections.map((x) => x.socketId));
}

// -- JWT (HS256) -------------------------------------------------------------------------

function b64url(data) {
  return Buffer.from(data).toString("base64").replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** An HS256 JWT for payload signed with secret. */
function jwt(payload, secret, header = { alg: "HS256", typ: "JWT" }) {
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  const sig = crypto.createHmac("sha256", secret).update(signingInput).digest();
  return `${signingInput}.${b64url(sig)}`;
}

/** Seconds since the epoch, for `exp`. */
function nowSec() {
  return Math.floor(Date.now() / 1000);
}

module.exports = {
  sendMessage,
  fullHistory,
  activeSocketIds,
  setDefaultTransports,
  ISO_RE,
  startChat,
  withChat,
  drained,
  withInbox,
  chatClient,
  chatConnect,
  assertNone,
  takeAll,
  assertIso,
  member,
  assertKeys,
  assertKeysWithin,
  assertMessageDoc,
  MESSAGE_REQUIRED,
  MESSAGE_OPTIONAL,
  httpJson,
  history,
  jwt,
  nowSec,
};

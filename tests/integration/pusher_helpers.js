// Helpers for the Pusher Channels protocol 7 tests (docs/chat-protocol.md, the Pusher
// section): a chat server with Pusher apps, pusher-js 8 clients, raw `ws` connections to
// /app/{key} that parse every frame, the npm `pusher` server library aimed at our HTTP
// API, and channel auth signed exactly as Laravel's /broadcasting/auth signs it.
// Every inbox keeps what arrived, so a failed wait names the frames that did arrive.
"use strict";

const assert = require("node:assert");
const crypto = require("node:crypto");
const Pusher = require("pusher-js");
const PusherServer = require("pusher");
const h = require("./helpers");
const c = require("./chat_helpers");

/** The app every test configures (`--pusher-app 1:key1:secret1`). */
const APP = { id: "1", key: "key1", secret: "secret1" };
const APP_ARG = `${APP.id}:${APP.key}:${APP.secret}`;
const API_KEY = "api-key-for-tests";
const SOCKET_ID_RE = /^\d+\.\d+$/;

/**
 * Runs fn(server) against a chat server with the Pusher app APP (plus `--api-key`
 * API_KEY for /api/emit), then closes every client and stops the server.
 * opts.app: a different `--pusher-app` value (options after ';').
 */
function withPusher(extraArgs, fn, opts = {}) {
  const args = ["--pusher-app", opts.app || APP_ARG, "--api-key", API_KEY, ...extraArgs];
  return c.withChat(args, async (server) => {
    try {
      return await fn(server);
    } finally {
      await cleanup();
    }
  });
}

// -- an inbox: what arrived, taken in order ------------------------------------------------

/**
 * Collects items (frames, events); take(pred) consumes the oldest match, waiting (bounded)
 * for one; a timeout lists everything unconsumed, so the failure says what came instead.
 */
class Inbox {
  constructor(name) {
    this.name = name;
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    for (let i = 0; i < this.waiters.length; i++) {
      const w = this.waiters[i];
      const idx = this.items.findIndex(w.pred);
      if (idx >= 0) {
        this.waiters.splice(i--, 1);
        w.resolve(this.items.splice(idx, 1)[0]);
      }
    }
  }

  take(pred, what, timeoutMs = h.DEFAULT_TIMEOUT_MS) {
    const idx = this.items.findIndex(pred);
    if (idx >= 0) return Promise.resolve(this.items.splice(idx, 1)[0]);
    let waiter;
    const p = new Promise((resolve) => {
      waiter = { pred, resolve };
      this.waiters.push(waiter);
    });
    return h.withTimeout(p, timeoutMs, `${what} on ${this.name}`).catch((err) => {
      const i = this.waiters.indexOf(waiter);
      if (i >= 0) this.waiters.splice(i, 1);
      err.message += `; arrived instead: ${this.describe()}`;
      throw err;
    });
  }

  /** Asserts that nothing matching pred arrived (counting the past) within ms. */
  async none(pred, what, ms = h.SETTLE_MS) {
    await h.delay(ms);
    const got = this.items.filter(pred);
    assert.strictEqual(got.length, 0, `${this.name} got ${what}: ${JSON.stringify(got).slice(0, 600)}`);
  }

  describe() {
    return JSON.stringify(this.items).slice(0, 1500);
  }
}

/** A predicate on {event, channel} for Inbox.take. */
function frame(event, channel) {
  return (f) => f.event === event && (channel === undefined || f.channel === channel);
}

// -- raw connections -----------------------------------------------------------------------

/** Parses a Pusher frame: {event, channel, data (parsed when a JSON string), rawData, text}. */
function parseFrame(text) {
  let msg;
  try {
    msg = JSON.parse(text);
  } catch (_) {
    return { event: undefined, text, notJson: true };
  }
  let data = msg.data;
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch (_) {
      /* a string that is not JSON stays a string */
    }
  }
  return { ...msg, data, rawData: msg.data, text };
}

/**
 * A raw WebSocket to /app/{key}?{query}: ws.frames is an Inbox of parsed frames;
 * ws.send(obj) sends JSON (a string is sent as is). Resolves once open.
 */
async function rawPusher(server, { key = APP.key, query = "protocol=7&client=js&version=8.6.0", headers } = {}) {
  const url = `ws://127.0.0.1:${server.port}/app/${encodeURIComponent(key)}?${query}`;
  const ws = h.track(new h.WebSocket(url, headers ? { headers } : undefined));
  ws.frames = new Inbox(`raw /app/${key}`);
  ws.on("message", (data) => ws.frames.push(parseFrame(data.toString("utf8"))));
  ws.on("error", () => {});
  ws.closed = new Promise((resolve) => ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  const rawSend = ws.send.bind(ws);
  ws.sendFrame = (obj) => rawSend(typeof obj === "string" ? obj : JSON.stringify(obj));
  await h.withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode} for ${url}`)));
    }),
    h.DEFAULT_TIMEOUT_MS,
    `open ${url}`,
  );
  return ws;
}

/** rawPusher + its pusher:connection_established; ws.socketId set. */
async function rawConnected(server, opts) {
  const ws = await rawPusher(server, opts);
  const est = await ws.frames.take(frame("pusher:connection_established"), "pusher:connection_established");
  ws.established = est;
  ws.socketId = est.data.socket_id;
  return ws;
}

/** Sends pusher:subscribe for channel (with auth / channel_data when given) and waits for the answer. */
async function rawSubscribe(ws, channel, extra = {}) {
  ws.sendFrame({ event: "pusher:subscribe", data: { channel, ...extra } });
  return ws.frames.take(
    (f) =>
      f.channel === channel && ["pusher_internal:subscription_succeeded", "pusher:subscription_error"].includes(f.event),
    `the answer to subscribing ${channel}`,
  );
}

/** Asserts a ping on ws is answered with pusher:pong (the connection still works). */
async function assertPong(ws) {
  ws.sendFrame({ event: "pusher:ping", data: {} });
  await ws.frames.take(frame("pusher:pong"), "pusher:pong");
}

// -- signatures (what Laravel's /broadcasting/auth returns) ------------------------------

function hmacHex(secret, message) {
  return crypto.createHmac("sha256", secret).update(message).digest("hex");
}

/**
 * {auth} for a private channel, {auth, channel_data} for a presence channel (member =
 * {user_id, user_info}): auth = "key:" + hex HMAC-SHA256(secret, "socket_id:channel[:channel_data]").
 */
function channelAuth(socketId, channel, member, app = APP) {
  if (!member) return { auth: `${app.key}:${hmacHex(app.secret, `${socketId}:${channel}`)}` };
  const channelData = JSON.stringify(member);
  return {
    auth: `${app.key}:${hmacHex(app.secret, `${socketId}:${channel}:${channelData}`)}`,
    channel_data: channelData,
  };
}

// -- pusher-js clients ---------------------------------------------------------------------

const clients = new Set();

/**
 * A pusher-js 8 client of our server (ws only, no TLS). opts.member: the presence member
 * its auth handler signs for; opts.authorize(params, callback): a handler of its own;
 * opts.key: another app key; other opts go to pusher-js. p.messages is an Inbox of every
 * decoded message the connection received ({event, channel, data, user_id}), internal
 * ones included.
 */
function pusherClient(server, opts = {}) {
  const { key = APP.key, member, authorize, ...rest } = opts;
  const customHandler =
    authorize ||
    ((params, callback) => {
      const m = params.channelName.startsWith("presence-") ? member : undefined;
      callback(null, channelAuth(params.socketId, params.channelName, m));
    });
  const p = new Pusher(key, {
    cluster: "x",
    wsHost: "127.0.0.1",
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    channelAuthorization: { customHandler },
    ...rest,
  });
  return instrument(p, `pusher-js ${key}${member ? ` (user ${member.user_id})` : ""}`);
}

/**
 * Tracks a pusher-js client for cleanup() and records what its connection received:
 * p.messages (an Inbox of decoded messages) and p.errors (its connection errors).
 */
function instrument(p, name) {
  clients.add(p);
  p.messages = new Inbox(name);
  p.connection.bind("message", (m) => p.messages.push(m));
  p.errors = [];
  p.connection.bind("error", (e) => p.errors.push(e));
  return p;
}

/**
 * The Pusher error code in a pusher-js connection error: a pusher:error frame gives
 * {type:"PusherError", data:{code}}, a close gives {type:"WebSocketError", error:{data:{code}}}.
 */
function errorCode(e) {
  if (e && e.data && e.data.code !== undefined) return e.data.code;
  if (e && e.error && e.error.data) return e.error.data.code;
  return undefined;
}

/** Resolves once p is connected (bounded); rejects with the errors it saw otherwise. */
function connected(p, timeoutMs = 5000) {
  if (p.connection.state === "connected") return Promise.resolve(p);
  return h
    .withTimeout(
      new Promise((resolve) => p.connection.bind("connected", () => resolve(p))),
      timeoutMs,
      "pusher-js 'connected'",
    )
    .catch((err) => {
      err.message += `; state ${p.connection.state}, errors ${JSON.stringify(p.errors).slice(0, 500)}`;
      throw err;
    });
}

/** A connected pusher-js client. */
async function connectedClient(server, opts) {
  return connected(pusherClient(server, opts));
}

/**
 * Subscribes p to channel and resolves with the channel once pusher:subscription_succeeded
 * fired (with its data in channel.succeededWith); rejects on pusher:subscription_error.
 */
function subscribed(p, channel, timeoutMs = h.DEFAULT_TIMEOUT_MS) {
  const ch = p.subscribe(channel);
  return h.withTimeout(
    new Promise((resolve, reject) => {
      ch.bind("pusher:subscription_succeeded", (data) => {
        ch.succeededWith = data;
        resolve(ch);
      });
      ch.bind("pusher:subscription_error", (err) =>
        reject(new Error(`pusher:subscription_error for ${channel}: ${JSON.stringify(err)}`)),
      );
    }),
    timeoutMs,
    `pusher:subscription_succeeded for ${channel}; messages: ${p.messages.describe()}`,
  );
}

/**
 * Gives channel an Inbox (ch.events) of every event emitted on it: {event, data}
 * (pusher-js hands global bindings no metadata: user_id is in p.messages).
 */
function channelInbox(ch) {
  if (ch.events) return ch.events;
  ch.events = new Inbox(`channel ${ch.name}`);
  ch.bind_global((event, data) => ch.events.push({ event, data }));
  return ch.events;
}

// -- Laravel Echo -----------------------------------------------------------------------------

/**
 * A connected Laravel Echo 2 (ESM only, hence the import) over pusher-js, as a Laravel
 * page configures it: broadcaster 'reverb' (or 'pusher' with a cluster), our host and
 * port, and an `authorizer` that answers what Laravel's /broadcasting/auth answers
 * (member: the presence channel_data {user_id, user_info}). echo.pusher is the
 * instrumented pusher-js client underneath.
 */
async function echoClient(server, { broadcaster = "reverb", member, authorizer, ...rest } = {}) {
  const { default: Echo } = await import("laravel-echo");
  const options = {
    broadcaster,
    key: APP.key,
    wsHost: "127.0.0.1",
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ["ws"],
    Pusher,
    authorizer:
      authorizer ||
      ((channel) => ({
        authorize(socketId, callback) {
          const m = channel.name.startsWith("presence-") ? member : undefined;
          callback(null, channelAuth(socketId, channel.name, m));
        },
      })),
    ...rest,
  };
  if (broadcaster === "pusher") options.cluster = "x";
  const echo = new Echo(options);
  echo.pusher = instrument(echo.connector.pusher, `echo ${broadcaster}${member ? ` (user ${member.user_id})` : ""}`);
  await connected(echo.pusher);
  return echo;
}

/** Resolves once an Echo channel's subscription succeeded; rejects on its error. */
function echoSubscribed(channel, timeoutMs = h.DEFAULT_TIMEOUT_MS) {
  return h.withTimeout(
    new Promise((resolve, reject) => {
      channel.subscribed(() => resolve(channel));
      channel.error((err) => reject(new Error(`subscription error on ${channel.name}: ${JSON.stringify(err)}`)));
    }),
    timeoutMs,
    `the subscription to ${channel.name}`,
  );
}

/** An Inbox fed by an Echo channel's listen(name) for each name: {event, data}. */
function echoListen(channel, names) {
  const inbox = new Inbox(`echo ${channel.name}`);
  for (const name of [].concat(names)) channel.listen(name, (data) => inbox.push({ event: name, data }));
  return inbox;
}

// -- the npm `pusher` server library -------------------------------------------------------

/** The npm `pusher` library aimed at server's HTTP API (opts: other app, extra options). */
function serverLib(server, opts = {}) {
  const app = opts.app || APP;
  return new PusherServer({
    appId: app.id,
    key: app.key,
    secret: app.secret,
    host: "127.0.0.1",
    port: String(server.port),
    useTLS: false,
    timeout: 5000,
    ...opts.options,
  });
}

/** A `pusher` library call's answer as {status, json}, or {status, body} when refused. */
async function call(promise) {
  try {
    const res = await promise;
    return { status: res.status, json: await res.json() };
  } catch (e) {
    if (e.status === undefined) throw e;
    return { status: e.status, body: e.body };
  }
}

/** POST /api/emit (the chat app's backend API) of event/data to room. */
async function apiEmit(server, room, event, data) {
  const res = await c.httpJson(`${server.url}/api/emit`, {
    method: "POST",
    headers: { "X-API-Key": API_KEY },
    body: { event, data, room },
  });
  assert.strictEqual(res.status, 200, `/api/emit: ${res.status} ${res.body}`);
}

// -- cleanup -------------------------------------------------------------------------------

/** Disconnects every pusher-js client and closes every tracked socket. */
async function cleanup() {
  for (const p of clients) {
    try {
      p.disconnect();
    } catch (_) {
      /* best effort */
    }
  }
  clients.clear();
  await h.cleanup();
}

module.exports = {
  APP,
  APP_ARG,
  API_KEY,
  SOCKET_ID_RE,
  Pusher,
  PusherServer,
  Inbox,
  frame,
  withPusher,
  parseFrame,
  rawPusher,
  rawConnected,
  rawSubscribe,
  assertPong,
  hmacHex,
  channelAuth,
  pusherClient,
  instrument,
  errorCode,
  connected,
  connectedClient,
  subscribed,
  channelInbox,
  echoClient,
  echoSubscribed,
  echoListen,
  serverLib,
  call,
  apiEmit,
  cleanup,
  clients,
};

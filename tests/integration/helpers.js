// Small shared helpers for the integration tests: real socket.io-client sockets,
// bounded waits, raw HTTP and raw WebSocket access. Everything created here is tracked
// and closed by cleanup() (call it in afterEach/after).
"use strict";

const http = require("node:http");
const { io, Manager } = require("socket.io-client");
const WebSocket = require("ws");

const DEFAULT_TIMEOUT_MS = 3000;
// How long to wait before concluding that something did NOT arrive.
const SETTLE_MS = 300;

const tracked = new Set();

function track(thing) {
  tracked.add(thing);
  return thing;
}

/** Closes every socket, manager and raw WebSocket created through these helpers. */
async function cleanup() {
  for (const t of tracked) {
    try {
      if (t instanceof WebSocket) {
        if (t.readyState !== WebSocket.CLOSED) t.terminate();
      } else if (t instanceof Manager) {
        t.reconnection(false);
        if (t.engine) t.engine.close();
        t._close && t._close();
      } else if (t && typeof t.disconnect === "function") {
        t.io && t.io.reconnection(false);
        t.disconnect();
        if (t.io && t.io.engine) t.io.engine.close();
      }
    } catch (_) {
      /* best effort */
    }
  }
  tracked.clear();
}

function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Rejects after ms with a message naming what was awaited. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Resolves with the args array of the next `event` on emitter (a socket.io socket,
 * manager, engine, EventEmitter or ws WebSocket); rejects after timeoutMs.
 */
function once(emitter, event, timeoutMs = DEFAULT_TIMEOUT_MS) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => resolve(args);
    emitter.once(event, listener);
  });
  return withTimeout(p, timeoutMs, `'${event}'`).catch((err) => {
    (emitter.off || emitter.removeListener).call(emitter, event, listener);
    throw err;
  });
}

/** Resolves true if `event` does NOT happen within ms, false if it does. */
function noEvent(emitter, event, ms = SETTLE_MS) {
  return new Promise((resolve) => {
    const listener = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      (emitter.off || emitter.removeListener).call(emitter, event, listener);
      resolve(true);
    }, ms);
    emitter.once(event, listener);
  });
}

/** Polls predicate every 10 ms until true; rejects after timeoutMs. */
async function waitFor(predicate, timeoutMs = DEFAULT_TIMEOUT_MS, what = "condition") {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await delay(10);
  }
  if (!(await predicate())) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * A socket.io-client socket that is NOT connected yet (register listeners, then
 * `await connected(socket)`). By default: own Manager (forceNew), no reconnection.
 */
function client(url, opts = {}) {
  const socket = io(url, {
    forceNew: true,
    reconnection: false,
    timeout: 5000,
    ...opts,
    autoConnect: false,
  });
  track(socket);
  track(socket.io);
  return socket;
}

/** Connects socket and resolves once 'connect' fired; rejects on connect_error/timeout. */
function connected(socket, timeoutMs = 5000) {
  const p = new Promise((resolve, reject) => {
    const onConnect = () => {
      socket.off("connect_error", onError);
      resolve(socket);
    };
    const onError = (err) => {
      socket.off("connect", onConnect);
      reject(err);
    };
    socket.once("connect", onConnect);
    socket.once("connect_error", onError);
  });
  socket.connect();
  return withTimeout(p, timeoutMs, "connect");
}

/** client() + connected(). */
async function connect(url, opts = {}) {
  return connected(client(url, opts));
}

/** Connects and resolves with the connect_error Error (fails if it connects). */
async function connectError(url, opts = {}, timeoutMs = 5000) {
  const socket = client(url, opts);
  const p = new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error("connected, expected connect_error")));
    socket.once("connect_error", (err) => resolve(err));
  });
  socket.connect();
  return withTimeout(p, timeoutMs, "connect_error");
}

/** emit with an ack callback; resolves with ALL the ack args (emitWithAck keeps only one). */
function emitAck(socket, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(DEFAULT_TIMEOUT_MS).emit(event, ...args, (err, ...ackArgs) => {
      if (err) reject(new Error(`no ack for '${event}': ${err.message}`));
      else resolve(ackArgs);
    });
  });
}

/** Normalises what a client decoded as binary (Buffer / ArrayBuffer / view) to a Buffer. */
function toBuffer(x) {
  if (Buffer.isBuffer(x)) return x;
  if (x instanceof ArrayBuffer) return Buffer.from(x);
  if (ArrayBuffer.isView(x)) return Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  throw new Error(`not binary: ${Object.prototype.toString.call(x)}`);
}

function isBinary(x) {
  return Buffer.isBuffer(x) || x instanceof ArrayBuffer || ArrayBuffer.isView(x);
}

/**
 * Raw HTTP request (own connection, no keep-alive). Resolves with
 * {status, headers, body(string), raw(Buffer)}; rejects on network error or timeout.
 */
function request(url, { method = "GET", headers = {}, body, timeoutMs = DEFAULT_TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        clearTimeout(timer);
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode, headers: res.headers, body: raw.toString("utf8"), raw });
      });
      res.on("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`timed out after ${timeoutMs} ms: ${method} ${url}`));
    }, timeoutMs);
    req.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (body !== undefined) req.end(body);
    else req.end();
  });
}

/** Parses an Engine.IO v4 OPEN packet ("0{...}") and returns its JSON. */
function parseOpen(body) {
  if (typeof body !== "string" || body[0] !== "0") throw new Error(`not an open packet: ${body}`);
  return JSON.parse(body.slice(1));
}

/** Engine.IO polling handshake on path (default /socket.io/); resolves with the open JSON. */
async function pollingHandshake(baseUrl, path = "/socket.io/") {
  const res = await request(`${baseUrl}${path}?EIO=4&transport=polling`);
  if (res.status !== 200) throw new Error(`handshake failed: ${res.status} ${res.body}`);
  return parseOpen(res.body);
}

/**
 * Raw WebSocket (package `ws`) to path (default /socket.io/). Collects every message
 * in ws.received (strings for text frames, Buffers for binary frames); ws.next()
 * resolves with the next message not consumed yet.
 */
function rawWs(baseUrl, path = "/socket.io/", query = "EIO=4&transport=websocket") {
  const wsUrl = baseUrl.replace(/^http/, "ws") + `${path}?${query}`;
  const ws = track(new WebSocket(wsUrl));
  ws.received = [];
  ws.closedAt = null;
  let cursor = 0;
  const waiters = [];
  ws.on("message", (data, isBinaryFrame) => {
    ws.received.push(isBinaryFrame ? Buffer.from(data) : data.toString("utf8"));
    while (waiters.length && cursor < ws.received.length) waiters.shift()(ws.received[cursor++]);
  });
  ws.on("error", () => {});
  const closed = new Promise((resolve) => {
    ws.on("close", (code, reason) => {
      ws.closedAt = Date.now();
      resolve({ code, reason: reason.toString() });
    });
  });
  ws.closed = closed;
  ws.next = (timeoutMs = DEFAULT_TIMEOUT_MS) => {
    if (cursor < ws.received.length) return Promise.resolve(ws.received[cursor++]);
    return withTimeout(new Promise((resolve) => waiters.push(resolve)), timeoutMs, "ws message");
  };
  ws.opened = withTimeout(
    new Promise((resolve, reject) => {
      ws.once("open", () => resolve(ws));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    }),
    DEFAULT_TIMEOUT_MS,
    "ws open",
  );
  return ws;
}

/**
 * A raw WebSocket Socket.IO client on namespace '/': waits for the Engine.IO OPEN,
 * sends CONNECT ("40"), waits for the CONNECT ack ("40{...}"), answers pings when
 * answerPings. Resolves with the ws (ws.sid = Engine.IO sid).
 */
async function rawSioWs(baseUrl, { answerPings = true, sendConnect = true } = {}) {
  const ws = rawWs(baseUrl);
  await ws.opened;
  const open = parseOpen(await ws.next());
  ws.sid = open.sid;
  ws.open = open;
  if (answerPings) {
    ws.on("message", (data, isBinaryFrame) => {
      if (!isBinaryFrame && data.toString() === "2" && ws.readyState === WebSocket.OPEN) ws.send("3");
    });
  }
  if (sendConnect) {
    ws.send("40");
    // Skip pings that may arrive first.
    for (;;) {
      const msg = await ws.next();
      if (msg === "2") continue;
      if (typeof msg === "string" && msg.startsWith("40")) break;
      throw new Error(`unexpected message before CONNECT ack: ${msg}`);
    }
  }
  return ws;
}

module.exports = {
  DEFAULT_TIMEOUT_MS,
  SETTLE_MS,
  WebSocket,
  io,
  Manager,
  track,
  cleanup,
  delay,
  withTimeout,
  once,
  noEvent,
  waitFor,
  client,
  connected,
  connect,
  connectError,
  emitAck,
  toBuffer,
  isBinary,
  request,
  parseOpen,
  pollingHandshake,
  rawWs,
  rawSioWs,
};

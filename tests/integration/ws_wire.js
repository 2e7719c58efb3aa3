// WebSocket framing by hand (RFC 6455) for tests where the bytes matter: masked client
// frames, a raw TCP upgrade, a reader of the server's frames, and the server's memory.
"use strict";

const assert = require("node:assert");
const crypto = require("node:crypto");
const fs = require("node:fs");
const net = require("node:net");
const harness = require("./harness");
const h = require("./helpers");

const OP = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };
const EIO_WS = "/engine.io/?EIO=4&transport=websocket"; // the raw Engine.IO echo
const SIO_WS = "/socket.io/?EIO=4&transport=websocket";

const sockets = new Set();
/** Destroys every TCP connection opened here. */
function destroyAll() {
  for (const s of sockets) s.destroy();
  sockets.clear();
}

/** A masked client frame; rsv1 sets the "compressed" bit (RFC 7692). */
function clientFrame(opcode, payload = Buffer.alloc(0), { fin = true, rsv1 = false } = {}) {
  payload = Buffer.from(payload);
  const n = payload.length;
  let head;
  if (n < 126) {
    head = Buffer.from([0, 0x80 | n]);
  } else if (n <= 0xffff) {
    head = Buffer.from([0, 0x80 | 126, n >> 8, n & 0xff]);
  } else {
    head = Buffer.alloc(10);
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode;
  const mask = crypto.randomBytes(4);
  const masked = Buffer.alloc(n);
  for (let i = 0; i < n; i++) masked[i] = payload[i] ^ mask[i & 3];
  return Buffer.concat([head, mask, masked]);
}

/** A close frame's payload: the code, big-endian, then the reason's bytes. */
function closePayload(code, reason = Buffer.alloc(0)) {
  const p = Buffer.alloc(2);
  p.writeUInt16BE(code);
  return Buffer.concat([p, Buffer.from(reason)]);
}

/** Writes bytes one at a time, each in its own write (and so, on loopback, its own segment). */
async function writeBytewise(socket, bytes) {
  for (const b of Buffer.from(bytes)) {
    if (socket.destroyed) return;
    socket.write(Buffer.from([b]));
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * A TCP connection that did the WebSocket upgrade on path by hand (byte by byte when
 * opts.bytewise; opts.headers: extra request headers, e.g. Sec-WebSocket-Extensions).
 * Resolves with {socket, status: 101, headers (the 101's, lowercased names), frames};
 * frames.next() resolves with the next server frame (see splitFrames), or null once the
 * connection is closed.
 */
async function rawUpgrade(port, path, { bytewise = false, headers = {} } = {}) {
  const socket = net.connect(port, "127.0.0.1");
  sockets.add(socket);
  socket.on("error", () => {});
  await h.withTimeout(new Promise((resolve) => socket.once("connect", resolve)), 3000, "tcp connect");
  const key = crypto.randomBytes(16).toString("base64");
  const upgrade =
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("") +
    "\r\n";
  const answer = h.withTimeout(
    new Promise((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (d) => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        const head = buf.subarray(0, end).toString();
        if (!head.startsWith("HTTP/1.1 101")) return reject(new Error(`upgrade refused: ${head}`));
        resolve({ head, rest: buf.subarray(end + 4) });
      };
      socket.on("data", onData);
    }),
    3000 + (bytewise ? upgrade.length * 5 : 0),
    "101 Switching Protocols",
  );
  if (bytewise) await writeBytewise(socket, upgrade);
  else socket.write(upgrade);
  const { head, rest } = await answer;
  return { socket, status: 101, headers: parseHeaders(head), frames: frameReader(socket, rest) };
}

/** An HTTP answer's header lines as {lowercased name: value}, repeated names joined by ", ". */
function parseHeaders(head) {
  const headers = {};
  for (const line of head.split("\r\n").slice(1)) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  return headers;
}

/**
 * Splits buf into the complete frames it holds {fin, rsv1, rsv2, rsv3, masked, op, payload}
 * and the rest (a masked frame, wrong from a server, is skipped past its mask key).
 */
function splitFrames(buf) {
  const frames = [];
  for (;;) {
    if (buf.length < 2) break;
    let len = buf[1] & 0x7f;
    let at = 2;
    if (len === 126) {
      if (buf.length < 4) break;
      len = buf.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (buf.length < 10) break;
      len = Number(buf.readBigUInt64BE(2));
      at = 10;
    }
    if (buf[1] & 0x80) at += 4;
    if (buf.length < at + len) break;
    const b0 = buf[0];
    frames.push({
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      masked: (buf[1] & 0x80) !== 0,
      op: b0 & 0x0f,
      payload: Buffer.from(buf.subarray(at, at + len)),
    });
    buf = buf.subarray(at + len);
  }
  return { frames, rest: buf };
}

/** Parses the server's (unmasked) frames from socket, starting with the bytes in buf. */
function frameReader(socket, buf) {
  const frames = [];
  const waiters = [];
  let closed = false;
  const wake = () => {
    while (waiters.length && (frames.length || closed)) waiters.shift()(frames.length ? frames.shift() : null);
  };
  const parse = () => {
    const r = splitFrames(buf);
    frames.push(...r.frames);
    buf = r.rest;
    wake();
  };
  socket.on("data", (d) => {
    buf = Buffer.concat([buf, d]);
    parse();
  });
  socket.on("close", () => {
    closed = true;
    wake();
  });
  parse();
  return {
    next: (timeoutMs = h.DEFAULT_TIMEOUT_MS) =>
      h.withTimeout(
        new Promise((resolve) => {
          waiters.push(resolve);
          wake();
        }),
        timeoutMs,
        "a frame from the server",
      ),
  };
}

/** Opens the raw Engine.IO echo and reads its OPEN packet. */
async function openEcho(port, opts = {}) {
  const c = await rawUpgrade(port, EIO_WS, opts);
  const open = await c.frames.next();
  assert.ok(open && open.op === OP.text && open.payload.toString().startsWith("0{"), "an Engine.IO OPEN packet");
  return c;
}

/** The server's close frame (skipping any other frame), or null when it closed without one. */
async function closeFrame(c) {
  for (;;) {
    const f = await c.frames.next();
    if (!f || f.op === OP.close) return f;
  }
}

const codeOf = (f) => (f && f.payload.length >= 2 ? f.payload.readUInt16BE(0) : null);

/**
 * Starts the server with AddressSanitizer's quarantine cut from 256 MB to 16 MB (no effect
 * on a build without it): freed memory held there would read as growth in a memory bound.
 */
async function startWithSmallQuarantine(args = [], opts = {}) {
  const saved = process.env.ASAN_OPTIONS;
  process.env.ASAN_OPTIONS = [saved, "quarantine_size_mb=16"].filter(Boolean).join(":");
  try {
    return await harness.start(args, opts);
  } finally {
    if (saved === undefined) delete process.env.ASAN_OPTIONS;
    else process.env.ASAN_OPTIONS = saved;
  }
}

/** VmRSS of a process in MB. */
function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m[1]) / 1024;
}

/** Which sanitizer the server under test was built with: "tsan", "asan" or null. */
function sanitizer() {
  const bin = process.env.CHAT_SERVER || "";
  if (/build-tsan/.test(bin)) return "tsan";
  if (/build-asan/.test(bin)) return "asan";
  return null;
}

module.exports = {
  OP,
  EIO_WS,
  SIO_WS,
  destroyAll,
  clientFrame,
  closePayload,
  writeBytewise,
  rawUpgrade,
  parseHeaders,
  splitFrames,
  frameReader,
  openEcho,
  closeFrame,
  codeOf,
  startWithSmallQuarantine,
  rssMb,
  sanitizer,
  track: (socket) => (sockets.add(socket), socket),
};

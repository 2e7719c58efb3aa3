// The malformed-input matrix (issue 9): a table of hostile inputs, each with the answer
// it must get, run against one server while a healthy socket.io-client keeps being
// answered and the server's memory stays within a stated bound. Used by hostile_*.test.js.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const net = require("node:net");
const h = require("./helpers");
const wire = require("./ws_wire");

const CASE_TIMEOUT = { timeout: 20000 };

/**
 * RSS bounds in MB (growth over the run, and the total), measured 2026-12-02 on the
 * plain build: ~12 MB at start, < 5 MB growth over a file's cases. The bound is several
 * times that, and far below what one unbounded buffer (a 2^63-byte frame, a 1 MB body
 * per request, attachments kept) would cost. AddressSanitizer's shadow and quarantine
 * and ThreadSanitizer's shadow of every page touched need more room (see ws_frames).
 */
function rssBound() {
  switch (wire.sanitizer()) {
    case "tsan":
      return { growth: 192, total: 400 };
    case "asan":
      return { growth: 96, total: 250 };
    default:
      return { growth: 32, total: 96 };
  }
}

/**
 * Registers one test per case of `cases` ({cls, name, answer, run(server)}) on a server
 * from start(); a witness (socket.io-client over WebSocket, connected before the first
 * case) must get its ack after every case, and the RSS bound must hold at the end.
 * witness: {nsp?, ping(socket)} (resolves once the ack answered).
 */
function runMatrix(title, { start, witness, cases }) {
  describe(title, () => {
    let server;
    let healthy;
    let rssStart;
    const ctx = {};

    before(async () => {
      server = await start();
      ctx.server = server;
      healthy = await h.connect(server.url + (witness.nsp || ""), { transports: ["websocket"] });
      await witness.ping(healthy);
      rssStart = wire.rssMb(server.proc.pid);
    });

    afterEach(async () => {
      wire.destroyAll();
    });

    after(async () => {
      wire.destroyAll();
      await h.cleanup();
      if (server) await server.stop();
    });

    for (const c of cases) {
      it(`${c.cls}: ${c.name} -> ${c.answer}`, CASE_TIMEOUT, async () => {
        await c.run(server, ctx);
        assert.ok(healthy.connected, "the healthy client is still connected");
        await witness.ping(healthy);
      });
    }

    it(`the server's RSS stays within its bound (${JSON.stringify(rssBound())} MB)`, CASE_TIMEOUT, async (t) => {
      const rss = wire.rssMb(server.proc.pid);
      const bound = rssBound();
      const what = `server RSS ${rssStart.toFixed(1)} -> ${rss.toFixed(1)} MB over ${cases.length} hostile inputs`;
      t.diagnostic(what);
      assert.ok(rss - rssStart < bound.growth && rss < bound.total, what);
      await witness.ping(healthy);
    });
  });
}

// -- raw HTTP ------------------------------------------------------------------------------

/**
 * Sends `bytes` on a fresh TCP connection (one byte per write when opts.bytewise) and
 * collects the responses until the server closes, or opts.settleMs of silence after the
 * last byte (then `closed` is false). Resolves with {responses: [{status, headers, body}],
 * closed, raw}. opts.then(socket) runs after the bytes are written (e.g. to half-close).
 */
function rawHttp(port, bytes, { bytewise = false, settleMs = 1000, then } = {}) {
  return new Promise((resolve, reject) => {
    const socket = wire.track(net.connect(port, "127.0.0.1"));
    let raw = Buffer.alloc(0);
    let done = false;
    let timer = null;
    const finish = (closed) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses: parseResponses(raw), closed, raw: raw.toString("latin1") });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), settleMs);
    };
    socket.on("data", (d) => {
      raw = Buffer.concat([raw, d]);
      arm();
    });
    socket.on("close", () => finish(true));
    socket.on("error", () => finish(true));
    socket.on("connect", async () => {
      try {
        if (bytewise) await wire.writeBytewise(socket, Buffer.from(bytes, "latin1"));
        else socket.write(Buffer.from(bytes, "latin1"));
        if (then) await then(socket);
        arm();
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Splits raw HTTP/1.1 responses (bodies by Content-Length). */
function parseResponses(buf) {
  const out = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf("\r\n\r\n", at);
    if (end < 0) break;
    const lines = buf.subarray(at, end).toString("latin1").split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0]);
    if (!m) break;
    const headers = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const len = Number(headers["content-length"] || 0);
    const body = buf.subarray(end + 4, end + 4 + len).toString("utf8");
    out.push({ status: Number(m[1]), headers, body });
    at = end + 4 + len;
  }
  return out;
}

module.exports = { runMatrix, rawHttp, rssBound, CASE_TIMEOUT };

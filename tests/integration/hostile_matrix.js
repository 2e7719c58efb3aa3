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
 * RSS bounds in MB (growth since the first case, and the total), checked after every
 * case. Measured 2026-12-02 over each file's cases: the plain build starts at 13-16 MB and
 * grows < 1 MB; AddressSanitizer (quarantine cut to 16 MB where the file allows) 96-102 MB,
 * growth < 8 MB; ThreadSanitizer 35-111 MB, growth up to 77 MB with the chat app (its
 * runtime keeps freed memory and shadows every page touched, see ws_frames). The bounds
 * are a few times that, and far below what one unbounded buffer would cost (a 2^63-byte
 * frame, 1 MB bodies kept, attachments waiting for ever).
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
 * case) must get its ack after every case, and the RSS bound must hold after every case.
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
        checkRss(`after '${c.name}'`);
      });
    }

    /** The RSS bound holds now; returns what was measured. */
    function checkRss(when) {
      const rss = wire.rssMb(server.proc.pid);
      const bound = rssBound();
      const what = `server RSS ${rssStart.toFixed(1)} -> ${rss.toFixed(1)} MB ${when}`;
      assert.ok(rss - rssStart < bound.growth && rss < bound.total, `${what}: over ${JSON.stringify(bound)}`);
      return what;
    }

    it(`the server's RSS stays within its bound (${JSON.stringify(rssBound())} MB)`, CASE_TIMEOUT, async (t) => {
      t.diagnostic(checkRss(`over ${cases.length} hostile inputs`));
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

// Sessions that never send a Socket.IO CONNECT: --max-pending-sessions-per-address and
// --max-pending-sessions. A handshake past either is refused with 403 and engine.io's
// error body, as the reference's `allowRequest` refusal; a client from another address
// still connects; a place comes back when a session connects or expires. (20,000 polling
// handshakes from one address in 0.8 s were all kept for ~70 s.)
// The flood comes from 127.0.0.2/127.0.0.3 (loopback, bound as the local address) so
// that the server sees addresses other than the healthy client's 127.0.0.1.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const http = require("node:http");
const harness = require("./harness");
const h = require("./helpers");

const FROM_ADDRESS = { code: 4, message: "Too many pending sessions from this address" };
const IN_TOTAL = { code: 4, message: "Too many pending sessions" };

/** A raw HTTP request from `localAddress`; resolves with {status, body}. */
function requestFrom(localAddress, url, { method = "GET", body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, localAddress, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.setTimeout(h.DEFAULT_TIMEOUT_MS, () => req.destroy(new Error(`timed out: ${method} ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** A polling handshake from `localAddress`: {status, body, sid (when opened)}. */
async function handshakeFrom(localAddress, url) {
  const res = await requestFrom(localAddress, `${url}/socket.io/?EIO=4&transport=polling`);
  if (res.status === 200) res.sid = h.parseOpen(res.body).sid;
  return res;
}

/** A WebSocket handshake from `localAddress`: the open ws, or the refusal {status, body}. */
function wsHandshakeFrom(localAddress, url) {
  const ws = h.track(new h.WebSocket(`${url.replace(/^http/, "ws")}/socket.io/?EIO=4&transport=websocket`, { localAddress }));
  ws.on("error", () => {});
  return h.withTimeout(
    new Promise((resolve) => {
      ws.once("message", () => resolve({ status: 101, ws }));
      ws.once("unexpected-response", (_req, res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
      });
    }),
    h.DEFAULT_TIMEOUT_MS,
    "ws handshake",
  );
}

/** Retries a handshake until it is admitted (a refused one takes no place). */
async function admitted(handshake) {
  let res;
  await h.waitFor(async () => (res = await handshake()).status !== 403, 8000, "an admitted handshake");
  return res;
}

function assertRefused(res, body) {
  assert.strictEqual(res.status, 403, `status of ${res.body}`);
  assert.deepStrictEqual(JSON.parse(res.body), body);
}

if (!harness.isReference()) {
  describe("sessions without a CONNECT", () => {
    afterEach(() => h.cleanup());

    it("a flood from one address is refused past the cap while another client connects", { timeout: 20000 }, async () => {
      const server = await harness.start(["--max-pending-sessions-per-address", "5"]);
      try {
        const url = server.url;
        const results = await Promise.all(Array.from({ length: 40 }, () => handshakeFrom("127.0.0.2", url)));
        const opened = results.filter((r) => r.status === 200);
        assert.strictEqual(opened.length, 5);
        for (const r of results.filter((r) => r.status !== 200)) assertRefused(r, FROM_ADDRESS);
        // WebSocket handshakes count the same, and are refused the same.
        assertRefused(await wsHandshakeFrom("127.0.0.2", url), FROM_ADDRESS);
        // A client from another address is not affected.
        for (const transports of [["polling"], ["websocket"]]) {
          const s = await h.connect(url, { transports });
          assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "ok"), ["ok"]);
        }
        // The sessions that were admitted work: one connects, and its place comes back.
        const sid = opened[0].sid;
        const post = await requestFrom("127.0.0.2", `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: "POST",
          body: "40",
        });
        assert.strictEqual(post.status, 200);
        const get = await requestFrom("127.0.0.2", `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`);
        assert.match(get.body, /^40\{"sid":/);
        const again = await admitted(() => wsHandshakeFrom("127.0.0.2", url));
        assert.strictEqual(again.status, 101);
        assertRefused(await handshakeFrom("127.0.0.2", url), FROM_ADDRESS);
        // A connected session does not count against its address.
        again.ws.send("40");
        assert.strictEqual((await admitted(() => handshakeFrom("127.0.0.2", url))).status, 200);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });

    it("places come back when sessions reach the connect timeout", { timeout: 20000 }, async () => {
      const server = await harness.start([
        "--max-pending-sessions-per-address", "3",
        "--connect-timeout", "800",
        "--ping-interval", "300",
      ]);
      try {
        const url = server.url;
        for (let i = 0; i < 3; i++) assert.strictEqual((await handshakeFrom("127.0.0.2", url)).status, 200);
        assertRefused(await handshakeFrom("127.0.0.2", url), FROM_ADDRESS);
        // Closed at the connect timeout; a polling session waits up to ping-interval for
        // its last GET, then its actor ends and gives its place back: all three come back,
        // and the cap still holds.
        for (let i = 0; i < 3; i++) assert.strictEqual((await admitted(() => handshakeFrom("127.0.0.2", url))).status, 200);
        assertRefused(await handshakeFrom("127.0.0.2", url), FROM_ADDRESS);
      } finally {
        await server.stop();
      }
    });

    it("the total over all addresses is capped too", { timeout: 20000 }, async () => {
      const server = await harness.start([
        "--max-pending-sessions-per-address", "4",
        "--max-pending-sessions", "6",
      ]);
      try {
        const url = server.url;
        const a = await Promise.all([1, 2, 3, 4].map(() => handshakeFrom("127.0.0.2", url)));
        assert.deepStrictEqual(a.map((r) => r.status), [200, 200, 200, 200]);
        const b = await Promise.all([1, 2, 3].map(() => handshakeFrom("127.0.0.3", url)));
        assert.deepStrictEqual(b.map((r) => r.status).sort(), [200, 200, 403]);
        assertRefused(b.find((r) => r.status === 403), IN_TOTAL);
        assertRefused(await handshakeFrom("127.0.0.1", url), IN_TOTAL);
        assertRefused(await wsHandshakeFrom("127.0.0.1", url), IN_TOTAL);
        // One of them connects: a client gets its place.
        const sid = a[0].sid;
        await requestFrom("127.0.0.2", `${url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, {
          method: "POST",
          body: "40",
        });
        let s;
        const connects = async () => {
          try {
            s = await h.connect(url, { transports: ["websocket"] });
            return true;
          } catch (_) {
            return false; // refused: the place is not back yet
          }
        };
        await h.waitFor(connects, 8000, "a client connecting");
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "in"), ["in"]);
        // Connected, it takes no place: the total is 5 of 6.
        assert.strictEqual((await handshakeFrom("127.0.0.1", url)).status, 200);
        assertRefused(await handshakeFrom("127.0.0.1", url), IN_TOTAL);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });
  });
}

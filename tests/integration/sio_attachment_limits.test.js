// Binary attachments held for packets not complete yet, with raw WebSocket frames:
// --max-attachments (a packet announcing more closes the connection, as a parse error),
// --max-attachment-bytes (the attachments one connection holds) and
// --max-attachment-bytes-total (over all connections: the connection whose frame passes
// it is closed, the others keep working). Held bytes come back when the packet completes
// or the connection closes. (64 pending attachments of ~1 MB each were kept for as long
// as the connection lived.)
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const CHUNK = 1500; // under --max-http-buffer-size

/** The event "message" with `n` attachments announced. */
function announce(n) {
  const placeholders = Array.from({ length: n }, (_, num) => ({ _placeholder: true, num }));
  return `45${n}-${JSON.stringify(["message", ...placeholders])}`;
}

/** Waits for the echo of a binary "message" and its attachments. */
async function echoed(ws, n) {
  for (;;) {
    const msg = await ws.next();
    if (typeof msg === "string" && msg.startsWith(`45${n}-["message-back"`)) break;
  }
  const bins = [];
  for (let i = 0; i < n; i++) bins.push(await ws.next());
  return bins;
}

if (!harness.isReference()) {
  describe("pending attachment limits", () => {
    let server;
    let url;

    before(async () => {
      server = await harness.start([
        "--max-http-buffer-size", "2000",
        "--max-attachments", "4",
        "--max-attachment-bytes", "4500",
        "--max-attachment-bytes-total", "5000",
      ]);
      url = server.url;
    });
    after(async () => {
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => h.cleanup());

    async function assertOthersServed() {
      const s = await h.connect(url, { transports: ["websocket"] });
      assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "alive"), ["alive"]);
    }

    it("a packet announcing more than --max-attachments closes the connection", TEST_TIMEOUT, async () => {
      const ws = await h.rawSioWs(url);
      ws.send(announce(4));
      for (let i = 0; i < 4; i++) ws.send(Buffer.from([i]));
      assert.deepStrictEqual(await echoed(ws, 4), [0, 1, 2, 3].map((i) => Buffer.from([i])));
      ws.send(announce(5));
      await h.withTimeout(ws.closed, 3000, "server closing after 5 attachments announced");
      await assertOthersServed();
    });

    it("attachments past --max-attachment-bytes close the connection; a complete packet gives its bytes back", TEST_TIMEOUT, async () => {
      const ws = await h.rawSioWs(url);
      // Exactly at the cap, twice: the first packet's bytes came back when it completed.
      for (let round = 0; round < 2; round++) {
        ws.send(announce(3));
        for (let i = 0; i < 3; i++) ws.send(Buffer.alloc(CHUNK, i));
        const bins = await echoed(ws, 3);
        assert.deepStrictEqual(bins.map((b) => b.length), [CHUNK, CHUNK, CHUNK]);
      }
      ws.send(announce(4));
      for (let i = 0; i < 4; i++) ws.send(Buffer.alloc(CHUNK, i));
      await h.withTimeout(ws.closed, 3000, "server closing past 4500 pending bytes");
      await assertOthersServed();
    });

    it("past --max-attachment-bytes-total the connection that passes it is closed, the others keep working", TEST_TIMEOUT, async () => {
      const a = await h.rawSioWs(url);
      const b = await h.rawSioWs(url);
      // 4 x 1500 over 5000: whichever frame the server takes last passes the budget, and
      // its connection is closed; the other holds 3000.
      for (const ws of [a, b]) {
        ws.send(announce(3));
        ws.send(Buffer.alloc(CHUNK, 1));
        ws.send(Buffer.alloc(CHUNK, 2));
      }
      const closed = await h.withTimeout(
        Promise.race([a.closed.then(() => a), b.closed.then(() => b)]),
        3000,
        "server closing one connection over the budget",
      );
      const survivor = closed === a ? b : a;
      assert.strictEqual(survivor.readyState, h.WebSocket.OPEN);
      // The closed one's bytes were given back: the survivor completes its packet (4500).
      survivor.send(Buffer.alloc(CHUNK, 3));
      assert.deepStrictEqual(
        (await echoed(survivor, 3)).map((x) => x[0]),
        [1, 2, 3],
      );
      assert.strictEqual(survivor.readyState, h.WebSocket.OPEN);
      await assertOthersServed();
    });

    it("a connection closed by its client gives its held bytes back", TEST_TIMEOUT, async () => {
      const c = await h.rawSioWs(url);
      // The server reads one WebSocket in order: these frames reach c's actor before its close.
      c.send(announce(3));
      c.send(Buffer.alloc(CHUNK, 1));
      c.send(Buffer.alloc(CHUNK, 2)); // 3000 held
      c.close();
      await c.closed;
      // 4500 fit only once c's 3000 are back. Until the server has seen c's close, the
      // attempt may be refused (that connection is closed); a new one tries again.
      let bins;
      await h.waitFor(
        async () => {
          const d = await h.rawSioWs(url);
          d.send(announce(3));
          for (let i = 0; i < 3; i++) d.send(Buffer.alloc(CHUNK, 7));
          bins = await Promise.race([echoed(d, 3), d.closed.then(() => null)]);
          d.close();
          return bins !== null;
        },
        5000,
        "4500 bytes fitting after the close",
      );
      assert.deepStrictEqual(bins.map((b) => b.length), [CHUNK, CHUNK, CHUNK]);
    });
  });
}

// Server lifecycle and bounds: a graceful stop on SIGTERM, and a client that stops
// reading is dropped once its write queue passes --max-queue-bytes while everyone else
// keeps receiving every message.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 20000 };

describe("lifecycle and bounds", () => {
  afterEach(() => h.cleanup());

  it("SIGTERM: every client is disconnected and the server exits 0", TEST_TIMEOUT, async () => {
    const server = await harness.start();
    try {
      const clients = [];
      for (const transports of [["websocket"], ["polling"], ["websocket"], ["polling"]])
        clients.push(await h.connect(server.url, { transports }));
      const gone = clients.map((c) => h.once(c, "disconnect", 8000));
      const exit = await server.stop();
      assert.deepStrictEqual(exit, { code: 0, signal: null });
      const reasons = (await Promise.all(gone)).map((args) => args[0]);
      for (const r of reasons) assert.ok(["transport close", "transport error"].includes(r), r);
    } finally {
      await server.stop();
    }
  });

  it("a client that stops reading is dropped over --max-queue-bytes; the others get everything", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return; // the reference has no write-queue cap
    const server = await harness.start(["--max-queue-bytes", "262144"]);
    try {
      const slow = await h.rawSioWs(server.url);
      const healthy = [];
      for (let i = 0; i < 3; i++) healthy.push(await h.connect(server.url, { transports: ["websocket"] }));
      const counts = healthy.map(() => 0);
      healthy.forEach((c, i) => c.on("flood", () => counts[i]++));
      slow._socket.pause(); // stop reading: the server's queue for it grows

      const chunk = "x".repeat(64 * 1024);
      const rounds = 300; // ~19 MB: far past the kernel buffers and the 256 KiB cap
      // Lockstep: the next broadcast only after every healthy client has the previous one, so
      // a healthy client's queue never holds more than one chunk however slowly this machine
      // runs the three clients; only the paused one can pass the cap.
      for (let i = 0; i < rounds; i++) {
        await h.emitAck(healthy[0], "broadcast", { event: "flood", data: chunk });
        await h.waitFor(() => counts.every((n) => n > i), 5000, `every healthy client to get message ${i}`);
      }
      assert.deepStrictEqual(counts, healthy.map(() => rounds));

      // The slow client is gone from the server's sessions...
      await h.waitFor(
        async () => JSON.parse((await h.request(`${server.url}/health`)).body).connections === healthy.length,
        5000,
        "the slow session to be dropped",
      );
      // ...and its socket is closed once it looks again.
      slow._socket.resume();
      await h.withTimeout(slow.closed, 5000, "the slow client's socket to close");
      assert.match(server.stderr(), /write queue over 262144 bytes/);
    } finally {
      await server.stop();
    }
  });
});

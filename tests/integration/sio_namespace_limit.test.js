// Namespaces per connection: a CONNECT past --max-namespaces-per-connection gets
// CONNECT_ERROR "Too many namespaces"; the connection and its other namespaces keep
// working, and a namespace left frees a place. (Without it, one connection could join
// every dynamic namespace a pattern allows, each with its own socket state.)
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

/** Connects `socket` and resolves with its connect_error (rejects if it connects). */
function refusal(socket) {
  const p = new Promise((resolve, reject) => {
    socket.once("connect", () => reject(new Error(`${socket.nsp} connected past the limit`)));
    socket.once("connect_error", resolve);
  });
  socket.connect();
  return h.withTimeout(p, 5000, "connect_error");
}

if (!harness.isReference()) {
  describe("namespaces per connection", () => {
    afterEach(() => h.cleanup());

    for (const transports of [["websocket"], ["polling"]]) {
      it(`a CONNECT past the limit gets CONNECT_ERROR (${transports[0]})`, { timeout: 15000 }, async () => {
        const server = await harness.start(["--max-namespaces-per-connection", "3"]);
        try {
          const manager = h.track(new h.Manager(server.url, { transports, reconnection: false, autoConnect: false }));
          const sockets = [];
          for (const nsp of ["/", "/dyn-a", "/dyn-b"]) sockets.push(await h.connected(h.track(manager.socket(nsp))));
          const fourth = h.track(manager.socket("/dyn-c"));
          const err = await refusal(fourth);
          assert.strictEqual(err.message, "Too many namespaces");
          // The others keep working over the same connection.
          for (const s of sockets) assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", s.nsp), [s.nsp]);
          // A namespace left frees its place.
          sockets[1].disconnect();
          const again = await h.connected(h.track(manager.socket("/dyn-d")));
          assert.deepStrictEqual(await h.emitAck(again, "message-with-ack", "d"), ["d"]);
          assert.strictEqual(again.io.engine, sockets[0].io.engine, "one Engine.IO connection");
        } finally {
          await h.cleanup();
          await server.stop();
        }
      });
    }

    it("the default allows 32 namespaces on one connection, not 33", { timeout: 20000 }, async () => {
      const server = await harness.start();
      try {
        const manager = h.track(new h.Manager(server.url, { transports: ["websocket"], reconnection: false, autoConnect: false }));
        const names = ["/", ...Array.from({ length: 31 }, (_, i) => `/dyn-n${i}`)];
        const sockets = await Promise.all(names.map((nsp) => h.connected(h.track(manager.socket(nsp)))));
        assert.strictEqual(sockets.length, 32);
        const extra = h.track(manager.socket("/dyn-extra"));
        const err = await refusal(extra);
        assert.strictEqual(err.message, "Too many namespaces");
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });
  });
}

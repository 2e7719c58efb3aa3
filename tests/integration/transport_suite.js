// The Socket.IO behaviour checked once per transport set-up (websocket only, polling
// only, polling upgraded to websocket). Used by sio_websocket.test.js,
// sio_polling.test.js and sio_upgrade.test.js.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 10000 };

/**
 * mode: 'websocket' | 'polling' | 'upgrade'
 */
function transportSuite(mode) {
  const transportOpts =
    mode === "websocket"
      ? { transports: ["websocket"] }
      : mode === "polling"
        ? { transports: ["polling"] }
        : {}; // default: polling first, then upgrade to websocket

  describe(`socket.io over ${mode}`, () => {
    let server;
    let url;

    before(async () => {
      server = await harness.start();
      url = server.url;
    });
    after(async () => {
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => h.cleanup());

    /** Connected socket, upgraded to websocket first in 'upgrade' mode. */
    async function ready(opts = {}) {
      const socket = h.client(url, { ...transportOpts, ...opts });
      const auth = h.once(socket, "auth", 5000);
      await h.connected(socket);
      await auth;
      await settleTransport(socket);
      return socket;
    }

    async function settleTransport(socket) {
      const engine = socket.io.engine;
      if (mode === "upgrade" && engine.transport.name !== "websocket") {
        await h.once(engine, "upgrade", 5000);
      }
      assert.strictEqual(engine.transport.name, mode === "polling" ? "polling" : "websocket");
    }

    it("connects with the expected transport", TEST_TIMEOUT, async () => {
      const socket = h.client(url, transportOpts);
      await h.connected(socket);
      const engine = socket.io.engine;
      assert.ok(socket.connected);
      assert.strictEqual(typeof socket.id, "string");
      assert.ok(socket.id.length > 0);
      if (mode === "websocket") {
        assert.strictEqual(engine.transport.name, "websocket");
      } else if (mode === "polling") {
        assert.strictEqual(engine.transport.name, "polling");
        // The handshake offers websocket, but this client may not take it.
        await h.delay(h.SETTLE_MS);
        assert.strictEqual(engine.transport.name, "polling");
      } else {
        if (engine.transport.name !== "websocket") {
          assert.strictEqual(engine.transport.name, "polling");
          const [transport] = await h.once(engine, "upgrade", 5000);
          assert.strictEqual(transport.name, "websocket");
        }
        assert.strictEqual(engine.transport.name, "websocket");
        // Still the same Socket.IO session after the upgrade.
        const [back] = await h.emitAck(socket, "message-with-ack", "after-upgrade");
        assert.strictEqual(back, "after-upgrade");
      }
    });

    it("emits `auth` with the handshake auth payload", TEST_TIMEOUT, async () => {
      const auth = { token: "abc", n: 1, nested: { list: [1, "two", null] } };
      const socket = h.client(url, { ...transportOpts, auth });
      const got = h.once(socket, "auth", 5000);
      await h.connected(socket);
      assert.deepStrictEqual((await got)[0], auth);
    });

    it("emits `auth` with {} when the client sends no auth", TEST_TIMEOUT, async () => {
      const socket = h.client(url, transportOpts);
      const got = h.once(socket, "auth", 5000);
      await h.connected(socket);
      assert.deepStrictEqual((await got)[0], {});
    });

    it("echoes events both ways (message -> message-back)", TEST_TIMEOUT, async () => {
      const socket = await ready();
      const args = ["hello", 42, { a: [1, 2, { b: null }] }, true, "ünïcødé ✓ 😀", [], ""];
      const back = h.once(socket, "message-back");
      socket.emit("message", ...args);
      assert.deepStrictEqual(await back, args);

      // Several in a row arrive in order.
      const received = [];
      socket.on("message-back", (n) => received.push(n));
      for (let i = 0; i < 20; i++) socket.emit("message", i);
      await h.waitFor(() => received.length === 20, 5000, "20 message-back");
      assert.deepStrictEqual(received, [...Array(20).keys()]);
    });

    it("echoes a large text payload", TEST_TIMEOUT, async () => {
      const socket = await ready();
      const big = "x".repeat(200 * 1024);
      const back = h.once(socket, "message-back", 5000);
      socket.emit("message", { big });
      assert.strictEqual((await back)[0].big, big);
    });

    it("acks client -> server (emitWithAck and emit with callback)", TEST_TIMEOUT, async () => {
      const socket = await ready();
      const one = await socket.timeout(3000).emitWithAck("message-with-ack", { x: 1 });
      assert.deepStrictEqual(one, { x: 1 });
      const many = await h.emitAck(socket, "message-with-ack", "a", 2, [3], { four: 4 }, null);
      assert.deepStrictEqual(many, ["a", 2, [3], { four: 4 }, null]);
      // Acks are matched by id when several are in flight.
      const results = await Promise.all(
        [...Array(10).keys()].map((i) => h.emitAck(socket, "message-with-ack", i)),
      );
      assert.deepStrictEqual(
        results.map((r) => r[0]),
        [...Array(10).keys()],
      );
    });

    it("acks server -> client (server-ack)", TEST_TIMEOUT, async () => {
      const socket = await ready();
      let pingArgs;
      socket.on("ping-ack", (...args) => {
        const cb = args.pop();
        pingArgs = args;
        cb("pong", { n: 7 });
      });
      const result = h.once(socket, "ack-result", 5000);
      socket.emit("server-ack", { timeout: 2000 });
      assert.deepStrictEqual((await result)[0], { ok: true, args: ["pong", { n: 7 }] });
      assert.deepStrictEqual(pingArgs, ["hello"]);
    });

    it("server -> client ack times out when the client never acks", TEST_TIMEOUT, async () => {
      const socket = await ready();
      const pinged = h.once(socket, "ping-ack");
      socket.on("ping-ack", () => {
        /* never call the ack */
      });
      const result = h.once(socket, "ack-result", 5000);
      const t0 = Date.now();
      socket.emit("server-ack", { timeout: 200 });
      const [pingArgs] = await pinged;
      assert.strictEqual(pingArgs, "hello");
      assert.deepStrictEqual((await result)[0], { ok: false, error: "timeout" });
      assert.ok(Date.now() - t0 >= 150, "the ack timeout fired too early");
    });

    it("echoes binary payloads both ways (top level, nested, several)", TEST_TIMEOUT, async () => {
      const socket = await ready();
      const b1 = Buffer.from([0, 1, 2, 3, 254, 255]);
      const b2 = Buffer.from("hello binary");
      const b3 = Buffer.alloc(64 * 1024, 7);
      const back = h.once(socket, "message-back");
      socket.emit("message", b1, { nested: { buf: b2, list: [b3, "text", 5] } }, "plain");
      const [r1, r2, r3] = await back;
      assert.ok(h.isBinary(r1), "top-level buffer decoded as binary");
      assert.deepStrictEqual(h.toBuffer(r1), b1);
      assert.ok(h.isBinary(r2.nested.buf));
      assert.deepStrictEqual(h.toBuffer(r2.nested.buf), b2);
      assert.deepStrictEqual(h.toBuffer(r2.nested.list[0]), b3);
      assert.strictEqual(r2.nested.list[1], "text");
      assert.strictEqual(r2.nested.list[2], 5);
      assert.strictEqual(r3, "plain");
    });

    it("acks with binary both ways", TEST_TIMEOUT, async () => {
      const socket = await ready();
      // client -> server ack carrying binary (BINARY_EVENT in, BINARY_ACK out)
      const buf = Buffer.from([9, 8, 7, 6]);
      const ack = await h.emitAck(socket, "message-with-ack", { data: buf }, Buffer.from("x"));
      assert.deepStrictEqual(h.toBuffer(ack[0].data), buf);
      assert.deepStrictEqual(h.toBuffer(ack[1]), Buffer.from("x"));

      // server -> client ack answered with binary (BINARY_ACK in)
      socket.on("ping-ack", (_hello, cb) => cb(Buffer.from([1, 2, 3]), { b: Buffer.from("yz") }));
      const result = h.once(socket, "ack-result", 5000);
      socket.emit("server-ack", { timeout: 2000 });
      const [res] = await result;
      assert.strictEqual(res.ok, true);
      assert.deepStrictEqual(h.toBuffer(res.args[0]), Buffer.from([1, 2, 3]));
      assert.deepStrictEqual(h.toBuffer(res.args[1].b), Buffer.from("yz"));
    });

    it("reports the handshake (query, headers, address, auth)", TEST_TIMEOUT, async () => {
      const socket = await ready({
        query: { foo: "bar" },
        extraHeaders: { "X-Custom-Header": "Custom-Value" },
        auth: { user: "u1" },
      });
      const [hs] = await h.emitAck(socket, "handshake");
      assert.strictEqual(hs.query.foo, "bar");
      assert.strictEqual(hs.query.EIO, "4");
      assert.strictEqual(hs.headers["x-custom-header"], "Custom-Value");
      assert.ok(!("X-Custom-Header" in hs.headers), "header names are lowercased");
      assert.ok(
        ["127.0.0.1", "::ffff:127.0.0.1"].includes(hs.address),
        `unexpected address ${hs.address}`,
      );
      assert.deepStrictEqual(hs.auth, { user: "u1" });
    });

    it("`rooms` acks the socket's rooms, its own id included", TEST_TIMEOUT, async () => {
      const socket = await ready();
      assert.deepStrictEqual(await h.emitAck(socket, "rooms"), [[socket.id]]);
      assert.deepStrictEqual(await h.emitAck(socket, "join", "r1"), ["r1"]);
      const [rooms] = await h.emitAck(socket, "rooms");
      assert.deepStrictEqual([...rooms].sort(), [socket.id, "r1"].sort());
      assert.deepStrictEqual(await h.emitAck(socket, "leave", "r1"), ["r1"]);
      assert.deepStrictEqual(await h.emitAck(socket, "rooms"), [[socket.id]]);
    });

    it("disconnect-me: 'io server disconnect', then a manual connect() works", TEST_TIMEOUT, async () => {
      const socket = await ready({ reconnection: true, reconnectionDelay: 50 });
      const firstId = socket.id;
      const disconnected = h.once(socket, "disconnect", 5000);
      socket.emit("disconnect-me");
      const [reason] = await disconnected;
      assert.strictEqual(reason, "io server disconnect");
      assert.strictEqual(socket.connected, false);
      // The client does not reconnect by itself after a server-side disconnect.
      assert.ok(await h.noEvent(socket, "connect", h.SETTLE_MS), "must not reconnect by itself");

      const auth = h.once(socket, "auth", 5000);
      await h.connected(socket);
      await auth;
      assert.notStrictEqual(socket.id, firstId);
      const back = h.once(socket, "message-back");
      socket.emit("message", "again");
      assert.deepStrictEqual(await back, ["again"]);
    });

    it("close-transport: 'transport close', then the client reconnects by itself", TEST_TIMEOUT, async () => {
      const socket = await ready({
        reconnection: true,
        reconnectionDelay: 50,
        reconnectionDelayMax: 100,
        randomizationFactor: 0,
      });
      const firstId = socket.id;
      const disconnected = h.once(socket, "disconnect", 5000);
      const reconnected = h.once(socket.io, "reconnect", 5000);
      socket.emit("close-transport");
      const [reason] = await disconnected;
      assert.strictEqual(reason, "transport close");
      await reconnected;
      await h.waitFor(() => socket.connected, 5000, "reconnected socket");
      assert.notStrictEqual(socket.id, firstId);
      const [back] = await h.emitAck(socket, "message-with-ack", "after-reconnect");
      assert.strictEqual(back, "after-reconnect");
    });

    it("serves several clients independently", TEST_TIMEOUT, async () => {
      const sockets = await Promise.all([...Array(5).keys()].map(() => ready()));
      const ids = new Set(sockets.map((s) => s.id));
      assert.strictEqual(ids.size, 5);
      const backs = sockets.map((s) => h.once(s, "message-back"));
      sockets.forEach((s, i) => s.emit("message", `from-${i}`));
      const got = await Promise.all(backs);
      got.forEach((args, i) => assert.deepStrictEqual(args, [`from-${i}`]));
    });
  });
}

module.exports = { transportSuite };

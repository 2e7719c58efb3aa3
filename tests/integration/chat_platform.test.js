// Chat app, platform events on `/` (docs/chat-protocol.md §1), over websocket and over
// polling: user-connected / identify / send-message / custom-event / ping /
// user-disconnected payloads and recipients, every validation error, the rate limit,
// and server-shutting-down on SIGTERM. Each test runs its own server.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
// Generous: the default of 10 a minute would trip tests that send a few messages.
const NO_RATE_LIMIT = ["--rate-limit", "1000"];

function platformSuite(transport) {
  const opts = { transports: [transport] };

  describe(`chat platform events (§1) over ${transport}`, () => {
    afterEach(() => h.cleanup());

    it("user-connected reaches every client, the new one included, with the total", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const t0 = Date.now();
        const a = await c.chatConnect(server.url, opts);
        const [ua] = await a.inbox.take("user-connected");
        c.assertKeys(ua, ["socketId", "connectedAt", "totalConnected", "timestamp"], "user-connected");
        assert.strictEqual(ua.socketId, a.id);
        assert.strictEqual(ua.totalConnected, 1);
        assert.strictEqual(typeof ua.connectedAt, "number");
        assert.ok(ua.connectedAt >= t0 - 1000 && ua.connectedAt <= Date.now() + 1000, `connectedAt ${ua.connectedAt} is not epoch ms of now`);
        c.assertIso(ua.timestamp);

        const b = await c.chatConnect(server.url, opts);
        const [forA, forB] = await c.takeAll([a, b], "user-connected");
        for (const u of [forA, forB]) {
          c.assertKeys(u, ["socketId", "connectedAt", "totalConnected", "timestamp"], "user-connected");
          assert.strictEqual(u.socketId, b.id);
          assert.strictEqual(u.totalConnected, 2);
          c.assertIso(u.timestamp);
        }
        const cc = await c.chatConnect(server.url, opts);
        const three = await c.takeAll([a, b, cc], "user-connected");
        for (const u of three) {
          assert.strictEqual(u.socketId, cc.id);
          assert.strictEqual(u.totalConnected, 3);
        }
        await c.assertNone([a, b, cc], "user-connected");
      }),
    );

    it("identify answers identified to the sender only", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        a.emit("identify", { userId: "user-1", platform: "web", appVersion: "1.2.3" });
        const [idf] = await a.inbox.take("identified");
        assert.deepStrictEqual(Object.keys(idf).sort(), ["message", "socketId", "timestamp"]);
        assert.strictEqual(idf.socketId, a.id);
        assert.strictEqual(idf.message, "Client identified successfully");
        c.assertIso(idf.timestamp);
        await c.assertNone([a, b], ["identified", "error"]);
      }),
    );

    it("send-message: receive-message to everyone (sender included) and ack {status:'ok', id}", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        const cc = await c.chatConnect(server.url, opts);
        const payload = { sender: "alice", text: "hello ünïcode ✓", platform: "flutter" };
        const [ack] = await h.emitAck(a, "send-message", payload);
        c.assertKeys(ack, ["status", "id"], "send-message ack");
        assert.strictEqual(ack.status, "ok");
        assert.ok((typeof ack.id === "string" && ack.id.length > 0) || typeof ack.id === "number", `ack id ${ack.id}`);
        const got = await c.takeAll([a, b, cc], "receive-message");
        for (const m of got) {
          c.assertKeys(m, ["socketId", "sender", "text", "platform", "timestamp"], "receive-message");
          assert.strictEqual(m.socketId, a.id);
          assert.strictEqual(m.sender, "alice");
          assert.strictEqual(m.text, "hello ünïcode ✓");
          assert.strictEqual(m.platform, "flutter");
          c.assertIso(m.timestamp);
        }
        // Without an ack: the same broadcast.
        b.emit("send-message", { sender: "bob", text: "no ack", platform: "web" });
        const again = await c.takeAll([a, b, cc], "receive-message");
        for (const m of again) {
          assert.strictEqual(m.socketId, b.id);
          assert.strictEqual(m.sender, "bob");
          assert.strictEqual(m.text, "no ack");
          assert.strictEqual(m.platform, "web");
        }
        await c.assertNone([a, b, cc], ["receive-message", "error"]);
      }),
    );

    it("send-message with the longest valid sender (100) and text (5000)", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const sender = "s".repeat(100);
        const text = "t".repeat(5000);
        const [ack] = await h.emitAck(a, "send-message", { sender, text, platform: "web" });
        assert.strictEqual(ack.status, "ok");
        const [m] = await a.inbox.take("receive-message");
        assert.strictEqual(m.sender, sender);
        assert.strictEqual(m.text, text);
        await c.assertNone(a, "error");
      }),
    );

    it("custom-event: echoed to everyone with from and the whole payload as data", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        const payload = { eventType: "order-update", data: { orderId: 7, items: [1, "two", null], ok: true } };
        a.emit("custom-event", payload);
        const got = await c.takeAll([a, b], "custom-event");
        for (const ev of got) {
          c.assertKeys(ev, ["from", "data", "timestamp"], "custom-event");
          assert.strictEqual(ev.from, a.id);
          assert.deepStrictEqual(ev.data, payload);
          c.assertIso(ev.timestamp);
        }
        await c.assertNone([a, b], "custom-event");
      }),
    );

    it("ping: pong {timestamp} to the sender only", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        a.emit("ping");
        const [pong] = await a.inbox.take("pong");
        c.assertKeys(pong, ["timestamp"], "pong");
        c.assertIso(pong.timestamp);
        await c.assertNone([a, b], "pong");
      }),
    );

    it("user-disconnected reaches the others with platform, duration and the new total", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        const cc = await c.chatConnect(server.url, opts);
        await c.takeAll([a, b, cc], "user-connected", undefined, (u) => u.socketId === cc.id);
        b.emit("identify", { userId: "user-b", platform: "android", appVersion: "9.9" });
        await b.inbox.take("identified");
        await h.delay(50);
        const bId = b.id;
        b.disconnect();
        const got = await c.takeAll([a, cc], "user-disconnected");
        for (const d of got) {
          c.assertKeys(d, ["socketId", "platform", "connectedDuration", "totalConnected", "timestamp"], "user-disconnected");
          assert.strictEqual(d.socketId, bId);
          assert.strictEqual(d.platform, "android");
          assert.strictEqual(typeof d.connectedDuration, "number");
          assert.ok(d.connectedDuration >= 0 && d.connectedDuration < 60000, `connectedDuration ${d.connectedDuration}`);
          assert.strictEqual(d.totalConnected, 2);
          c.assertIso(d.timestamp);
        }
        // A transport-level close (no Socket.IO DISCONNECT) counts as well.
        const ccId = cc.id;
        cc.io.engine.close();
        const [d2] = await a.inbox.take("user-disconnected");
        assert.strictEqual(d2.socketId, ccId);
        assert.strictEqual(d2.totalConnected, 1);
        await c.assertNone(a, "user-disconnected");
      }),
    );

    it("identify and custom-event sent with an ack are answered through it", TEST_TIMEOUT, () =>
      c.withChat(NO_RATE_LIMIT, async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const [idAck] = await h.emitAck(a, "identify", { userId: "acked", platform: "web", appVersion: "1" });
        assert.strictEqual(idAck.status, "ok", JSON.stringify(idAck));
        const [ceAck] = await h.emitAck(a, "custom-event", { eventType: "t", data: 1 });
        assert.strictEqual(ceAck.status, "ok", JSON.stringify(ceAck));
        const [ev] = await a.inbox.take("custom-event");
        assert.deepStrictEqual(ev.data, { eventType: "t", data: 1 });
      }),
    );

    it("an error answered through the ack is not also sent as an `error` event", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "1"], async (server) => {
        const a = await c.chatConnect(server.url, opts);
        for (const [event, payload] of [
          ["send-message", "not an object"],
          ["send-message", { sender: "s", text: "" }],
          ["identify", {}],
          ["custom-event", {}],
          ["send-message", { sender: "rl", text: "1", platform: "web" }], // ok (limit 1)
          ["send-message", { sender: "rl", text: "2", platform: "web" }], // Rate limit exceeded
        ]) {
          await h.emitAck(a, event, payload);
        }
        await c.assertNone(a, "error");
      }),
    );

    // Each invalid input, the error message of §1, sent to the sender only.
    const invalid = [
      ["send-message", "a string payload", "Invalid payload: expected an object"],
      ["send-message", { sender: "", text: "hi", platform: "web" }, "sender is required"],
      ["send-message", { text: "hi", platform: "web" }, "sender is required"],
      ["send-message", { sender: 42, text: "hi", platform: "web" }, "sender is required"],
      ["send-message", { sender: "x".repeat(101), text: "hi", platform: "web" }, "sender is too long (max 100)"],
      ["send-message", { sender: "bob", text: "", platform: "web" }, "text is required"],
      ["send-message", { sender: "bob", platform: "web" }, "text is required"],
      ["send-message", { sender: "bob", text: "y".repeat(5001), platform: "web" }, "text is too long (max 5000)"],
      ["identify", { platform: "web", appVersion: "1" }, "userId is required"],
      ["identify", { userId: true, platform: "web" }, "userId is required"],
      ["custom-event", { data: { a: 1 } }, "eventType is required"],
    ];
    describe("validation errors", () => {
      let server;
      before(async () => {
        server = await c.startChat(NO_RATE_LIMIT);
      });
      after(async () => {
        await h.cleanup();
        if (server) await server.stop();
      });

      for (const [event, payload, message] of invalid) {
        const shown = JSON.stringify(payload).slice(0, 60);
        it(`${event} ${shown} -> error '${message}' to the sender only`, TEST_TIMEOUT, async () => {
          const a = await c.chatConnect(server.url, opts);
          const b = await c.chatConnect(server.url, opts);
          a.emit(event, payload);
          const [err] = await a.inbox.take("error");
          assert.deepStrictEqual(err, { message });
          // With an ack the answer comes through it.
          const [ack] = await h.emitAck(a, event, payload);
          assert.deepStrictEqual(ack, { status: "error", error: message });
          await c.assertNone(b, "error");
          await c.assertNone([a, b], ["receive-message", "custom-event", "identified"], 0);
          // The connection is still usable.
          const [ok] = await h.emitAck(a, "send-message", { sender: "after", text: "still here", platform: "web" });
          assert.strictEqual(ok.status, "ok");
        });
      }
    });

    it("rate limit: the 4th send-message a minute is refused, another sender is unaffected", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "3"], async (server) => {
        const a = await c.chatConnect(server.url, opts);
        const b = await c.chatConnect(server.url, opts);
        for (let i = 1; i <= 3; i++) {
          a.emit("send-message", { sender: "alice", text: `m${i}`, platform: "web" });
          const [m] = await b.inbox.take("receive-message");
          assert.strictEqual(m.text, `m${i}`);
        }
        a.emit("send-message", { sender: "alice", text: "m4", platform: "web" });
        const [err] = await a.inbox.take("error");
        assert.deepStrictEqual(err, { message: "Rate limit exceeded" });
        await c.assertNone(b, "error");
        // With an ack, through the ack.
        const [ack] = await h.emitAck(a, "send-message", { sender: "alice", text: "m5", platform: "web" });
        assert.deepStrictEqual(ack, { status: "error", error: "Rate limit exceeded" });
        // Another user still gets through.
        const [okB] = await h.emitAck(b, "send-message", { sender: "bob", text: "b1", platform: "web" });
        assert.strictEqual(okB.status, "ok");
        const [fromB] = await a.inbox.take("receive-message", undefined, (m) => m.text === "b1");
        assert.strictEqual(fromB.sender, "bob");
        await c.assertNone([a, b], "receive-message", h.SETTLE_MS, (m) => m.text === "m4" || m.text === "m5");
        await c.assertNone(b, "error", 0);
      }),
    );

    // Anonymous mode: a userId from identify is a name the client picks, so the limit is
    // the connection's (chat_rate_limit.test.js covers the keys).
    it("rate limit counts per connection, whatever the sender name or identified userId", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "3"], async (server) => {
        const a = await c.chatConnect(server.url, opts);
        a.emit("identify", { userId: "rl-user", platform: "web", appVersion: "1" });
        await a.inbox.take("identified");
        for (let i = 1; i <= 3; i++) {
          const [ack] = await h.emitAck(a, "send-message", { sender: `name${i}`, text: `m${i}`, platform: "web" });
          assert.strictEqual(ack.status, "ok");
        }
        const [ack] = await h.emitAck(a, "send-message", { sender: "name4", text: "m4", platform: "web" });
        assert.deepStrictEqual(ack, { status: "error", error: "Rate limit exceeded" });
      }),
    );

    it("SIGTERM: server-shutting-down reaches every client of / and /chat, the server exits 0", TEST_TIMEOUT, async () => {
      const server = await c.startChat(NO_RATE_LIMIT);
      try {
        const root1 = await c.chatConnect(server.url, opts);
        const root2 = await c.chatConnect(server.url, opts);
        const chat1 = await c.chatConnect(`${server.url}/chat`, opts);
        // One connection multiplexing / and /chat.
        const mux = c.chatClient(server.url, opts);
        const muxChat = c.withInbox(h.track(mux.io.socket("/chat")));
        await h.connected(mux);
        await h.connected(muxChat);
        const all = [root1, root2, chat1, mux, muxChat];
        const gone = all.map((s) => h.once(s, "disconnect", 8000));
        const exit = await server.stop();
        assert.deepStrictEqual(exit, { code: 0, signal: null });
        for (const s of all) {
          const [ev] = await s.inbox.take("server-shutting-down", 2000);
          c.assertKeys(ev, ["timestamp"], `server-shutting-down on ${s.nsp}`);
          c.assertIso(ev.timestamp);
        }
        await Promise.all(gone);
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });
  });
}

if (!harness.isReference()) {
  for (const transport of ["websocket", "polling"]) platformSuite(transport);
}

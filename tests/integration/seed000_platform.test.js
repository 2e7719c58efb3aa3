// Seed 000's platform events that the first reading missed (docs/chat-protocol.md §1):
// `send-batch {messages}` (its MessageBatcher), the fields its clients add to a payload
// (its `encrypted: true` recipe) reaching the receivers unchanged, and `ping` with an
// ack answered {status:"ok", timestamp}. socket.io-client 4, and 2.x (the Engine.IO v3
// client its Laravel side speaks through ElephantIO).
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const ioV2 = require("socket.io-client-v2");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };

describe("seed 000: send-batch, extra fields, ping with an ack", () => {
  afterEach(() => h.cleanup());

  it("send-message keeps the client's own fields (encrypted: true) in receive-message", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      const sent = { sender: "User", text: "U2FsdGVkX1+abc==", encrypted: true, platform: "web", meta: { v: 2 } };
      alice.emit("send-message", sent);
      for (const m of await c.takeAll([alice, bob], "receive-message")) {
        c.assertKeys(m, ["socketId", "sender", "text", "platform", "timestamp", "encrypted", "meta"]);
        assert.strictEqual(m.encrypted, true);
        assert.deepStrictEqual(m.meta, { v: 2 });
        assert.strictEqual(m.text, sent.text);
        assert.strictEqual(m.socketId, alice.id);
      }
      // The server's own fields are the server's: a payload cannot set socketId or timestamp.
      alice.emit("send-message", { sender: "User", text: "t", socketId: "forged", timestamp: "yesterday" });
      const [m] = await bob.inbox.take("receive-message");
      assert.strictEqual(m.socketId, alice.id);
      c.assertIso(m.timestamp);
    }),
  );

  it("send-batch {messages}: each a receive-message, in order; the ack once all are stored", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      // The seed's batcher adds {text} alone; a message may name its sender and add fields.
      const messages = [{ text: "Hello" }, { text: "two", sender: "Bob", encrypted: true }, { text: "three", platform: "ios" }];
      const [ack] = await h.emitAck(alice, "send-batch", { messages });
      assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      assert.strictEqual(ack.ids.length, 3);
      assert.ok(ack.ids.every((id) => Number.isInteger(id)), JSON.stringify(ack));
      for (const s of [alice, bob]) {
        const got = [];
        for (let i = 0; i < 3; i++) got.push((await s.inbox.take("receive-message"))[0]);
        assert.deepStrictEqual(got.map((m) => m.text), ["Hello", "two", "three"]);
        assert.strictEqual(got[0].sender, alice.id); // no sender: the socket's name
        assert.strictEqual(got[1].sender, "Bob");
        assert.strictEqual(got[1].encrypted, true);
        assert.strictEqual(got[2].platform, "ios");
      }
      // Stored like send-message: /health counts them.
      const health = await c.httpJson(`${server.url}/health`);
      assert.strictEqual(health.json.messages.platform, 3);
    }),
  );

  it("a bad batch is refused whole, with the reason and the message's index", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      const cases = [
        [{}, "messages is required"],
        [{ messages: "hello" }, "messages is required"],
        [{ messages: [] }, "messages must hold 1 to 100 messages"],
        [{ messages: Array.from({ length: 101 }, (_, i) => ({ text: `m${i}` })) }, "messages must hold 1 to 100 messages"],
        [{ messages: [{ text: "ok" }, { text: "" }] }, "messages[1]: text is required"],
        [{ messages: [{ text: "ok" }, "just text"] }, "messages[1]: Invalid payload: expected an object"],
        [{ messages: [{ text: "x".repeat(5001) }] }, "messages[0]: text is too long (max 5000)"],
      ];
      for (const [payload, error] of cases) {
        const [ack] = await h.emitAck(alice, "send-batch", payload);
        assert.deepStrictEqual(ack, { status: "error", error }, error);
      }
      alice.emit("send-batch", { messages: [{ text: "" }] });
      assert.deepStrictEqual((await alice.inbox.take("error"))[0], { message: "messages[0]: text is required" });
      await c.assertNone([bob], "receive-message");
    }),
  );

  it("every message of a batch counts against the rate limit; one that does not fit is refused whole", TEST_TIMEOUT, () =>
    c.withChat(["--rate-limit", "5"], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      const batch = (n) => ({ messages: Array.from({ length: n }, (_, i) => ({ text: `m${i}` })) });
      assert.strictEqual((await h.emitAck(alice, "send-batch", batch(3)))[0].status, "ok");
      const [refused] = await h.emitAck(alice, "send-batch", batch(3));
      assert.deepStrictEqual(refused, { status: "error", error: "Rate limit exceeded" });
      assert.strictEqual((await h.emitAck(alice, "send-batch", batch(2)))[0].status, "ok");
      await h.delay(100);
      assert.strictEqual(bob.inbox.count("receive-message"), 5);
    }),
  );

  it("ping with an ack: {status:\"ok\", timestamp}; pong {timestamp} as before", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const alice = await c.chatConnect(server.url, { transports: ["websocket"] });
      const [ack] = await h.emitAck(alice, "ping");
      c.assertKeys(ack, ["status", "timestamp"]);
      assert.strictEqual(ack.status, "ok");
      c.assertIso(ack.timestamp);
      const [pong] = await alice.inbox.take("pong");
      assert.deepStrictEqual(pong, { timestamp: ack.timestamp });
    }),
  );
});

if (!harness.isReference()) {
  describe("seed 000 with socket.io-client 2.x (Engine.IO v3)", () => {
    const opened = [];
    afterEach(() => {
      for (const s of opened.splice(0)) s.close();
      return h.cleanup();
    });

    for (const transports of [["websocket"], ["polling"]]) {
      it(`send-batch with an ack (${transports.join("+")})`, TEST_TIMEOUT, () =>
        c.withChat([], async (server) => {
          const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
          const v2 = ioV2(server.url, { forceNew: true, reconnection: false, transports });
          opened.push(v2);
          await h.withTimeout(new Promise((resolve) => v2.once("connect", resolve)), 5000, "v2 connect");
          const ack = (event, ...args) =>
            h.withTimeout(new Promise((resolve) => v2.emit(event, ...args, (r) => resolve(r))), 5000, `ack of ${event}`);
          const batchAck = await ack("send-batch", { messages: [{ sender: "Laravel", text: "a", encrypted: true }, { sender: "Laravel", text: "b" }] });
          assert.strictEqual(batchAck.status, "ok", JSON.stringify(batchAck));
          const [a] = await watcher.inbox.take("receive-message");
          const [b] = await watcher.inbox.take("receive-message");
          assert.deepStrictEqual([a.text, a.encrypted, b.text], ["a", true, "b"]);
          // (socket.io-client 2.x keeps "ping" to itself, a reserved event of its own.)
        }),
      );
    }
  });
}

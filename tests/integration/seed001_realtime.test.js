// Seed 001's clients (Toporia Realtime over socket.io-client; docs/chat-protocol.md §10,
// module realtime): `join-room` {room} with an ack, `message.sent` / `typing.started` /
// `typing.stopped` relayed to the room they name (or every room the sender joined), never
// as another identity when a JWT secret is set, and the `/notifications` namespace the
// backend reaches through POST /api/emit. Real socket.io-client 4.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const SECRET = "seed001-secret";

function token(claims) {
  return c.jwt({ exp: c.nowSec() + 600, ...claims }, SECRET);
}

async function joinAll(sockets, room) {
  for (const s of sockets) {
    const [ack] = await h.emitAck(s, "join-room", { room });
    assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
  }
}

describe("seed 001 relays on /", () => {
  afterEach(() => h.cleanup());

  it("join-room {room} with an ack; a presence room's ack lists its members", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const alice = await c.chatConnect(server.url, { transports: ["websocket"], auth: { userId: "1", username: "Alice" } });
      const [ack] = await h.emitAck(alice, "join-room", { room: "chat.room.1" });
      assert.deepStrictEqual(ack, { status: "ok", room: "chat.room.1" });
      const [presence] = await h.emitAck(alice, "join-room", { room: "presence.room.1" });
      assert.strictEqual(presence.status, "ok");
      assert.deepStrictEqual(presence.members.map((m) => m.user_id), ["1"]);
    }),
  );

  it("message.sent: to the room as sent, the sender included; others' rooms do not hear it", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      await joinAll([alice, bob], "chat.room.1");
      await joinAll([carol], "chat.room.2");
      // The seed's React example: no room in the payload, the rooms the sender joined.
      const sent = { user: "John", text: "Hello World!", timestamp: 1700000000000, meta: { client: "react" } };
      const [ack] = await h.emitAck(alice, "message.sent", sent);
      assert.deepStrictEqual(ack, { status: "ok" });
      for (const m of await c.takeAll([alice, bob], "message.sent")) assert.deepStrictEqual(m, sent);
      await c.assertNone([carol], "message.sent");
      // With a room named in the payload: that room only.
      await joinAll([alice], "chat.room.2");
      alice.emit("message.sent", { room: "chat.room.2", text: "to two" });
      const [m2] = await carol.inbox.take("message.sent");
      assert.deepStrictEqual(m2, { room: "chat.room.2", text: "to two" });
      await c.assertNone([bob], "message.sent");
    }),
  );

  it("typing.started / typing.stopped: to the room but the sender", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      await joinAll([alice, bob], "chat.room.1");
      alice.emit("typing.started", { user: "Alice", room: "chat.room.1" });
      assert.deepStrictEqual((await bob.inbox.take("typing.started"))[0], { user: "Alice", room: "chat.room.1" });
      alice.emit("typing.stopped", { user: "Alice", room: "chat.room.1" });
      assert.deepStrictEqual((await bob.inbox.take("typing.stopped"))[0], { user: "Alice", room: "chat.room.1" });
      await c.assertNone([alice], ["typing.started", "typing.stopped"]);
    }),
  );

  it("a relay needs a room the sender is in, and an object", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      await joinAll([bob], "chat.room.1");
      const cases = [
        [["message.sent", { text: "no room joined" }], "Join a room first"],
        [["message.sent", { room: "chat.room.1", text: "not a member" }], "Join the room first"],
        [["typing.started", { room: "" }], "room is required"],
        [["typing.stopped", "Alice"], "Invalid payload: expected an object"],
      ];
      for (const [args, error] of cases) {
        const [ack] = await h.emitAck(alice, ...args);
        assert.deepStrictEqual(ack, { status: "error", error }, JSON.stringify(args));
      }
      alice.emit("message.sent", { room: "chat.room.1", text: "not a member" });
      assert.deepStrictEqual((await alice.inbox.take("error"))[0], { message: "Join the room first" });
      await c.assertNone([bob], "message.sent");
    }),
  );
});

describe("seed 001 relays with a JWT secret", () => {
  afterEach(() => h.cleanup());

  it("user and userId are the token's, whatever the payload says", TEST_TIMEOUT, () =>
    c.withChat(["--jwt-secret", SECRET], async (server) => {
      const [alice, bob] = await Promise.all([
        c.chatConnect(server.url, { transports: ["websocket"], auth: { token: token({ userId: "1", username: "Alice" }) } }),
        c.chatConnect(server.url, { transports: ["websocket"], auth: { token: token({ userId: "2", username: "Bob" }) } }),
      ]);
      await joinAll([alice, bob], "chat.room.1");
      alice.emit("message.sent", { room: "chat.room.1", user: "Bob", userId: "2", text: "as bob?" });
      const [m] = await bob.inbox.take("message.sent");
      assert.deepStrictEqual(m, { room: "chat.room.1", user: "Alice", userId: "1", text: "as bob?" });
      alice.emit("typing.started", { room: "chat.room.1", user: "Bob" });
      const [t] = await bob.inbox.take("typing.started");
      assert.deepStrictEqual(t, { room: "chat.room.1", user: "Alice", userId: "1" });
    }),
  );
});

describe("seed 001's /notifications namespace", () => {
  afterEach(() => h.cleanup());

  it("the backend reaches one user's sockets, or all of them, on /notifications", TEST_TIMEOUT, () =>
    c.withChat(["--api-key", "k"], async (server) => {
      const [u1, u2] = await Promise.all(
        ["1", "2"].map((userId) => c.chatConnect(`${server.url}/notifications`, { transports: ["websocket"], auth: { userId } })),
      );
      const emit = (body) => c.httpJson(`${server.url}/api/emit`, { method: "POST", headers: { "X-API-Key": "k" }, body });
      let res = await emit({ namespace: "/notifications", event: "notification.new", userId: "1", data: { title: "New Message" } });
      assert.strictEqual(res.status, 200, res.body);
      assert.deepStrictEqual((await u1.inbox.take("notification.new"))[0], { title: "New Message" });
      await c.assertNone([u2], "notification.new");
      res = await emit({ namespace: "/notifications", event: "alert", data: { level: "info" } });
      assert.strictEqual(res.status, 200, res.body);
      for (const a of await c.takeAll([u1, u2], "alert")) assert.deepStrictEqual(a, { level: "info" });
    }),
  );

  it("needs a token like the other namespaces when a JWT secret is set", TEST_TIMEOUT, () =>
    c.withChat(["--jwt-secret", SECRET], async (server) => {
      const err = await h.connectError(`${server.url}/notifications`, { transports: ["websocket"] });
      assert.strictEqual(err.message, "Authentication error: No token provided");
      const ok = await c.chatConnect(`${server.url}/notifications`, {
        transports: ["websocket"],
        auth: { token: token({ userId: "5" }) },
      });
      assert.ok(ok.connected);
    }),
  );
});

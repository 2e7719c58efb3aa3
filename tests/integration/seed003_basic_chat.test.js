// Seed 003's clients call io() on "/" (docs/chat-protocol.md §9, module basic-chat):
// `message` to everyone as sent (or, with a JWT secret, the seed's JWT variant with the
// token's names), the simple rooms (`join-room` without `join`, `room-message`,
// `user-joined {userId}`, `user-left`), private messages to a socket id, and
// `client-error` answered with `error-response`. Real socket.io-client 4.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const SECRET = "seed003-secret";

function token(claims) {
  return c.jwt({ exp: c.nowSec() + 600, ...claims }, SECRET);
}

for (const transports of [["websocket"], ["polling"]]) {
  describe(`seed 003 basic chat on / (${transports.join("+")})`, () => {
    afterEach(() => h.cleanup());
    const connect = (url, opts = {}) => c.chatConnect(url, { transports, ...opts });

    it("message: the data as sent, to everyone, the sender included", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const [alice, bob] = await Promise.all([connect(server.url), connect(server.url)]);
        // Exactly what the seed's page sends, a local time string included.
        const data = { text: "হ্যালো", sender: alice.id, timestamp: "12:00:00 PM", extra: [1, { deep: true }] };
        alice.emit("message", data);
        const got = await c.takeAll([alice, bob], "message");
        for (const m of got) assert.deepStrictEqual(m, data);
        // With an ack the sender hears {status:"ok"}.
        const [ack] = await h.emitAck(bob, "message", { text: "second" });
        assert.deepStrictEqual(ack, { status: "ok" });
        assert.deepStrictEqual((await alice.inbox.take("message"))[0], { text: "second" });
      }),
    );

    it("join-room by name: joined-room to the sender, user-joined {userId} to the room", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => connect(server.url)));
        bob.emit("join-room", "room1");
        const [joinedBob] = await bob.inbox.take("joined-room");
        assert.deepStrictEqual(joinedBob, { room: "room1", message: "You joined room1" });
        alice.emit("join-room", "room1");
        const [joined] = await alice.inbox.take("joined-room");
        assert.deepStrictEqual(joined, { room: "room1", message: "You joined room1" });
        const [seen] = await bob.inbox.take("user-joined");
        assert.deepStrictEqual(seen, { userId: alice.id, message: `${alice.id} joined room1` });
        await c.assertNone([alice, carol], "user-joined");

        // room-message: `message` {room, sender, text, timestamp} to the room, sender included.
        alice.emit("room-message", { room: "room1", message: "hi room" });
        for (const [m] of await Promise.all([alice, bob].map((s) => s.inbox.take("message")))) {
          c.assertKeys(m, ["room", "sender", "text", "timestamp"]);
          assert.strictEqual(m.room, "room1");
          assert.strictEqual(m.sender, alice.id);
          assert.strictEqual(m.text, "hi room");
          c.assertIso(m.timestamp);
        }
        await c.assertNone([carol], "message");

        // leave-room: user-left {userId, message} to those still in the room.
        alice.emit("leave-room", "room1");
        const [left] = await bob.inbox.take("user-left");
        assert.deepStrictEqual(left, { userId: alice.id, message: `${alice.id} left room1` });
        // Out of the room, it no longer speaks in it.
        const [refused] = await h.emitAck(alice, "room-message", { room: "room1", message: "still here?" });
        assert.deepStrictEqual(refused, { status: "error", error: "Join the room first" });
        alice.emit("room-message", { room: "room1", message: "still here?" });
        const [err] = await alice.inbox.take("error");
        assert.deepStrictEqual(err, { message: "Join the room first" });
        await c.assertNone([bob], "message");
      }),
    );

    it("join-room answers seed 001's ack; the rules of private rooms hold", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const [alice, eve] = await Promise.all([connect(server.url), connect(server.url)]);
        const [ok] = await h.emitAck(alice, "join-room", { room: "vip.lounge" });
        assert.deepStrictEqual(ok, { status: "ok", room: "vip.lounge" });
        await alice.inbox.take("joined-room");
        // Another socket's own room, and a user's private room: refused, through the ack or
        // as `error`.
        const [other] = await h.emitAck(eve, "join-room", alice.id);
        assert.deepStrictEqual(other, { status: "error", error: "Forbidden" });
        eve.emit("join-room", "private-user.42");
        const [err] = await eve.inbox.take("error");
        assert.deepStrictEqual(err, { message: "Forbidden: private-user.42" });
        await c.assertNone([alice], "user-joined");
        await c.assertNone([eve], "joined-room");
        const [none] = await h.emitAck(eve, "join-room", "");
        assert.deepStrictEqual(none, { status: "error", error: "room is required" });
      }),
    );

    it("private-message {to, message}: to that socket alone", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const [alice, bob, carol] = await Promise.all([1, 2, 3].map(() => connect(server.url)));
        const [ack] = await h.emitAck(alice, "private-message", { to: bob.id, message: "psst" });
        assert.deepStrictEqual(ack, { status: "ok" });
        const [pm] = await bob.inbox.take("private-message");
        c.assertKeys(pm, ["from", "text", "timestamp"]);
        assert.strictEqual(pm.from, alice.id);
        assert.strictEqual(pm.text, "psst");
        await c.assertNone([alice, carol], "private-message");
        const [unknown] = await h.emitAck(alice, "private-message", { to: "nobody", message: "x" });
        assert.deepStrictEqual(unknown, { status: "error", error: "Recipient not found" });
      }),
    );

    it("client-error is answered with error-response", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const alice = await connect(server.url);
        alice.emit("client-error", { message: "render failed", stack: "x".repeat(1000) });
        const [answer] = await alice.inbox.take("error-response");
        assert.deepStrictEqual(answer, { message: "Error received, please try again" });
        alice.emit("client-error");
        await alice.inbox.take("error-response");
      }),
    );

    it("bad input gets an answer: no data, text over 5000, room-message without a room", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const alice = await connect(server.url);
        const cases = [
          [["message"], "message is required"],
          [["message", { text: "x".repeat(5001) }], "text is too long (max 5000)"],
          [["room-message", "just a string"], "room is required"],
          [["room-message", { room: "r" }], "message is required"],
          [["leave-room", {}], "room is required"],
          [["private-message", { to: alice.id }], "message is required"],
        ];
        for (const [args, error] of cases) {
          const [ack] = await h.emitAck(alice, ...args);
          assert.deepStrictEqual(ack, { status: "error", error }, JSON.stringify(args));
        }
      }),
    );
  });
}

describe("seed 003 basic chat with a JWT secret (the seed's JWT variant)", () => {
  afterEach(() => h.cleanup());

  it("message: {username, userId, text, timestamp} from the token, never from the payload", TEST_TIMEOUT, () =>
    c.withChat(["--jwt-secret", SECRET], async (server) => {
      const [alice, bob] = await Promise.all([
        c.chatConnect(server.url, { auth: { token: token({ id: 7, userId: "7", username: "alice" }) } }),
        c.chatConnect(server.url, { auth: { token: token({ userId: "8", username: "bob" }) } }),
      ]);
      alice.emit("message", { text: "signed", username: "bob", userId: "8" });
      for (const m of await c.takeAll([alice, bob], "message")) {
        c.assertKeys(m, ["username", "userId", "text", "timestamp"]);
        assert.strictEqual(m.username, "alice");
        assert.strictEqual(m.userId, "7");
        assert.strictEqual(m.text, "signed");
        c.assertIso(m.timestamp);
      }
      const [noText] = await h.emitAck(alice, "message", { body: "no text" });
      assert.deepStrictEqual(noText, { status: "error", error: "text is required" });
      // room-message names the token's user beside the socket.
      const [joined] = await h.emitAck(alice, "join-room", "general");
      assert.strictEqual(joined.status, "ok", JSON.stringify(joined));
      alice.emit("room-message", { room: "general", message: "hello", username: "bob" });
      const [m] = await alice.inbox.take("message", h.DEFAULT_TIMEOUT_MS, (x) => x.room === "general");
      assert.strictEqual(m.username, "alice");
      assert.strictEqual(m.userId, "7");
      assert.strictEqual(m.sender, alice.id);
    }),
  );

  it("without a token the connection is refused as on every chat namespace", TEST_TIMEOUT, () =>
    c.withChat(["--jwt-secret", SECRET], async (server) => {
      const err = await h.connectError(server.url, { transports: ["websocket"] });
      assert.strictEqual(err.message, "Authentication error: No token provided");
    }),
  );

  it("message counts against the rate limit", TEST_TIMEOUT, () =>
    c.withChat(["--rate-limit", "2"], async (server) => {
      const alice = await c.chatConnect(server.url, { transports: ["websocket"] });
      for (let i = 0; i < 2; i++) assert.deepStrictEqual((await h.emitAck(alice, "message", { text: `m${i}` }))[0], { status: "ok" });
      const [refused] = await h.emitAck(alice, "message", { text: "one too many" });
      assert.deepStrictEqual(refused, { status: "error", error: "Rate limit exceeded" });
    }),
  );
});

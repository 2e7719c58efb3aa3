// A socket's own room (named by its id) carries what is sent to that socket alone: room
// chat private messages, backend emits to a socket id. A client may not join another
// socket's room, on /chat (join-room) or on / (joinRoom / join), anonymous or verified;
// its own is fine.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };

describe("another socket's own room", () => {
  afterEach(() => h.cleanup());

  it("/chat: join-room with another socket's id is refused, and its private messages stay private", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const [alice, bob, eve] = await Promise.all(
        ["alice", "bob", "eve"].map(() => c.chatConnect(`${server.url}/chat`, { transports: ["websocket"] })),
      );
      for (const [s, name] of [[alice, "alice"], [bob, "bob"], [eve, "eve"]]) {
        const [ack] = await h.emitAck(s, "join", { username: name });
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      }
      const [refused] = await h.emitAck(eve, "join-room", { room: bob.id });
      assert.deepStrictEqual(refused, { status: "error", error: "Forbidden" });
      const [own] = await h.emitAck(eve, "join-room", { room: "lobby" });
      assert.strictEqual(own.status, "ok");
      alice.emit("private-message", { to: bob.id, message: "for bob only" });
      const [pm] = await bob.inbox.take("private-message");
      assert.strictEqual(pm.text, "for bob only");
      await c.assertNone([eve], "private-message");
    }),
  );

  it("/: joinRoom with another socket's id is refused; with a room of its own name it is not", TEST_TIMEOUT, () =>
    c.withChat(["--api-key", "k"], async (server) => {
      const [victim, eve] = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
      const [refused] = await h.emitAck(eve, "joinRoom", { room: victim.id });
      assert.deepStrictEqual(refused, { status: "error", error: "Forbidden" });
      const [own] = await h.emitAck(eve, "joinRoom", { room: eve.id });
      assert.strictEqual(own.status, "ok");
      // A backend emit to the victim's socket reaches the victim only.
      const res = await c.httpJson(`${server.url}/api/emit`, {
        method: "POST",
        headers: { "X-API-Key": "k" },
        body: { event: "notification", data: { n: 1 }, room: victim.id },
      });
      assert.strictEqual(res.status, 200);
      const [n] = await victim.inbox.take("notification");
      assert.deepStrictEqual(n, { n: 1 });
      await c.assertNone([eve], "notification");
    }),
  );
});

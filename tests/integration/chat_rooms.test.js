// Chat app, room chat on /chat (docs/chat-protocol.md §3): join, join-room, messages
// with and without a room, private messages, typing, leave-room, disconnect, "Join
// first", and the /admin namespace (credential, admin-broadcast to every client of /).
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const ADMIN_TOKEN = "s3cret";
const ARGS = ["--admin-token", ADMIN_TOKEN];

function chatNs(server, opts = {}) {
  return c.chatConnect(`${server.url}/chat`, opts);
}

/** Connects to /chat and joins as username; consumes the join-success. */
async function joined(server, username, opts = {}) {
  const s = await chatNs(server, opts);
  s.emit("join", username);
  const [ok] = await s.inbox.take("join-success");
  assert.deepStrictEqual(ok, { socketId: s.id, username });
  return s;
}

/** alice, bob and carol joined; alice and bob are in room r1 (their joined-room consumed). */
async function aliceAndBobInR1(server) {
  const alice = await joined(server, "alice");
  const bob = await joined(server, "bob");
  const carol = await joined(server, "carol");
  for (const s of [alice, bob]) {
    s.emit("join-room", "r1");
    await s.inbox.take("joined-room");
  }
  return { alice, bob, carol };
}

/** Normalises a users list for comparison: [{username, socketId}] sorted by username. */
function users(list) {
  assert.ok(Array.isArray(list), `not a list: ${JSON.stringify(list)}`);
  for (const u of list) c.assertKeysWithin(u, ["username", "socketId"], ["room"], "user entry");
  return list.map((u) => ({ username: u.username, socketId: u.socketId })).sort((x, y) => (x.username < y.username ? -1 : 1));
}

/** The latest users-list on s (older ones consumed), waiting for one that matches want. */
async function latestUsersList(s, want) {
  const matches = (list) => JSON.stringify(users(list)) === JSON.stringify(want);
  const [list] = await s.inbox.take("users-list", 3000, matches);
  s.inbox.drain("users-list");
  return list;
}

if (!harness.isReference())
  for (const transports of [["websocket"], ["polling"]])
    describe(`chat rooms on /chat (§3) over ${transports[0]}`, () => {
      before(() => c.setDefaultTransports(transports));
      after(() => c.setDefaultTransports(undefined));
    afterEach(() => h.cleanup());

    it("join: join-success to the sender, users-list to all, user-joined to the others", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const idle = await chatNs(server); // connected, never joins
        const alice = await chatNs(server);
        alice.emit("join", "alice");
        const [ok] = await alice.inbox.take("join-success");
        c.assertKeys(ok, ["socketId", "username"], "join-success");
        assert.deepStrictEqual(ok, { socketId: alice.id, username: "alice" });
        const listA = [{ username: "alice", socketId: alice.id }];
        for (const s of [alice, idle]) {
          const [list] = await s.inbox.take("users-list");
          assert.deepStrictEqual(users(list), listA);
        }
        const [uj0] = await idle.inbox.take("user-joined");
        assert.deepStrictEqual(uj0, { username: "alice", message: "alice joined the chat" });
        await c.assertNone(alice, "user-joined");

        const bob = await chatNs(server);
        bob.emit("join", "bob");
        const [okB] = await bob.inbox.take("join-success");
        assert.deepStrictEqual(okB, { socketId: bob.id, username: "bob" });
        const listAB = [
          { username: "alice", socketId: alice.id },
          { username: "bob", socketId: bob.id },
        ];
        for (const s of [alice, bob, idle]) {
          const [list] = await s.inbox.take("users-list");
          assert.deepStrictEqual(users(list), listAB);
        }
        for (const s of [alice, idle]) {
          const [uj] = await s.inbox.take("user-joined");
          c.assertKeys(uj, ["username", "message"], "user-joined");
          assert.deepStrictEqual(uj, { username: "bob", message: "bob joined the chat" });
        }
        await c.assertNone(bob, "user-joined");
        await c.assertNone([alice, bob], "join-success", 0);
        // Clients of / see none of it.
      }),
    );

    it("join-room: joined-room to the sender, user-joined-room to the others in it, room-members to the room", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await joined(server, "alice");
        const bob = await joined(server, "bob");
        const carol = await joined(server, "carol"); // not in the room

        alice.emit("join-room", "r1");
        const [jr] = await alice.inbox.take("joined-room");
        assert.deepStrictEqual(jr, { room: "r1", message: "You joined r1" });
        const [m1] = await alice.inbox.take("room-members");
        assert.deepStrictEqual(users(m1), [{ username: "alice", socketId: alice.id }]);

        bob.emit("join-room", "r1");
        const [jrB] = await bob.inbox.take("joined-room");
        assert.deepStrictEqual(jrB, { room: "r1", message: "You joined r1" });
        const [ujr] = await alice.inbox.take("user-joined-room");
        assert.deepStrictEqual(ujr, { username: "bob", room: "r1" });
        const members = [
          { username: "alice", socketId: alice.id },
          { username: "bob", socketId: bob.id },
        ];
        for (const s of [alice, bob]) {
          const [m] = await s.inbox.take("room-members", 3000, (l) => Array.isArray(l) && l.length === 2);
          assert.deepStrictEqual(users(m), members);
          for (const u of m) if ("room" in u) assert.strictEqual(u.room, "r1");
        }
        await c.assertNone(bob, "user-joined-room");
        await c.assertNone(carol, "joined-room", 0);
        await c.assertNone(carol, "user-joined-room", 0);
        await c.assertNone(carol, "room-members", 0);
      }),
    );

    it("send-message: to the room (sender included) with room, to everyone without", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const { alice, bob, carol } = await aliceAndBobInR1(server);
        alice.emit("send-message", { message: "in r1", room: "r1" });
        for (const m of await c.takeAll([alice, bob], "message")) {
          c.assertKeys(m, ["username", "text", "timestamp", "socketId", "room"], "message");
          assert.strictEqual(m.username, "alice");
          assert.strictEqual(m.text, "in r1");
          assert.strictEqual(m.socketId, alice.id);
          assert.strictEqual(m.room, "r1");
          c.assertIso(m.timestamp);
        }
        await c.assertNone(carol, "message");

        carol.emit("send-message", { message: "to all" });
        for (const m of await c.takeAll([alice, bob, carol], "message")) {
          c.assertKeysWithin(m, ["username", "text", "timestamp", "socketId"], ["room"], "message");
          assert.ok(m.room === undefined || m.room === null, `room on a message without room: ${m.room}`);
          assert.strictEqual(m.username, "carol");
          assert.strictEqual(m.text, "to all");
          assert.strictEqual(m.socketId, carol.id);
          c.assertIso(m.timestamp);
        }
        await c.assertNone([alice, bob, carol], "message");
      }),
    );

    it("private-message to the recipient, private-message-sent to the sender, nobody else", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await joined(server, "alice");
        const bob = await joined(server, "bob");
        const carol = await joined(server, "carol");
        alice.emit("private-message", { to: bob.id, message: "psst" });
        const [pm] = await bob.inbox.take("private-message");
        c.assertKeys(pm, ["from", "fromId", "text", "timestamp", "private"], "private-message");
        assert.strictEqual(pm.from, "alice");
        assert.strictEqual(pm.fromId, alice.id);
        assert.strictEqual(pm.text, "psst");
        assert.strictEqual(pm.private, true);
        c.assertIso(pm.timestamp);
        const [sent] = await alice.inbox.take("private-message-sent");
        c.assertKeys(sent, ["to", "from", "fromId", "text", "timestamp", "private"], "private-message-sent");
        assert.strictEqual(sent.to, "bob");
        assert.strictEqual(sent.from, "alice");
        assert.strictEqual(sent.fromId, alice.id);
        assert.strictEqual(sent.text, "psst");
        assert.strictEqual(sent.private, true);
        c.assertIso(sent.timestamp);
        await c.assertNone(carol, "private-message");
        await c.assertNone([alice, carol], "private-message", 0);
        await c.assertNone([bob, carol], "private-message-sent", 0);

        alice.emit("private-message", { to: "no-such-socket", message: "lost" });
        const [err] = await alice.inbox.take("error");
        assert.deepStrictEqual(err, { message: "Recipient not found" });
        await c.assertNone([bob, carol], "private-message");
      }),
    );

    it("typing / stop-typing: to the room or everyone, never the sender", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const { alice, bob, carol } = await aliceAndBobInR1(server);
        alice.emit("typing", { room: "r1" });
        const [t] = await bob.inbox.take("user-typing");
        assert.deepStrictEqual(t, { username: "alice", room: "r1" });
        alice.emit("stop-typing", { room: "r1" });
        const [st] = await bob.inbox.take("user-stop-typing");
        assert.deepStrictEqual(st, { username: "alice", room: "r1" });
        await c.assertNone([alice, carol], "user-typing");
        await c.assertNone([alice, carol], "user-stop-typing", 0);

        alice.emit("typing", {});
        for (const ev of await c.takeAll([bob, carol], "user-typing")) {
          c.assertKeysWithin(ev, ["username"], ["room"], "user-typing");
          assert.strictEqual(ev.username, "alice");
          assert.ok(ev.room === undefined || ev.room === null);
        }
        alice.emit("stop-typing", {});
        for (const ev of await c.takeAll([bob, carol], "user-stop-typing")) assert.strictEqual(ev.username, "alice");
        await c.assertNone(alice, "user-typing");
        await c.assertNone(alice, "user-stop-typing", 0);
      }),
    );

    it("leave-room: user-left-room to the room, left-room to the sender, no more room messages", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const { alice, bob, carol } = await aliceAndBobInR1(server);
        alice.emit("leave-room", "r1");
        const [left] = await alice.inbox.take("left-room");
        assert.deepStrictEqual(left, { room: "r1" });
        const [ulr] = await bob.inbox.take("user-left-room");
        assert.deepStrictEqual(ulr, { username: "alice", room: "r1" });
        await c.assertNone(carol, "user-left-room");
        bob.emit("send-message", { message: "alone", room: "r1" });
        await bob.inbox.take("message");
        await c.assertNone([alice, carol], "message");
      }),
    );

    it("disconnect: user-disconnected and a fresh users-list to everyone", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await joined(server, "alice");
        const bob = await joined(server, "bob");
        const carol = await joined(server, "carol");
        bob.disconnect();
        for (const s of [alice, carol]) {
          const [d] = await s.inbox.take("user-disconnected");
          assert.deepStrictEqual(d, { username: "bob", message: "bob left the chat" });
          await latestUsersList(s, [
            { username: "alice", socketId: alice.id },
            { username: "carol", socketId: carol.id },
          ]);
        }
        // A transport close counts as well.
        carol.io.engine.close();
        const [d2] = await alice.inbox.take("user-disconnected");
        assert.deepStrictEqual(d2, { username: "carol", message: "carol left the chat" });
        await latestUsersList(alice, [{ username: "alice", socketId: alice.id }]);
      }),
    );

    it("events sent with an ack are answered through it", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await chatNs(server);
        const anon = await chatNs(server);
        const [joinAck] = await h.emitAck(alice, "join", "alice");
        assert.strictEqual(joinAck.status, "ok", JSON.stringify(joinAck));
        const [roomAck] = await h.emitAck(alice, "join-room", "r1");
        assert.strictEqual(roomAck.status, "ok", JSON.stringify(roomAck));
        const [msgAck] = await h.emitAck(alice, "send-message", { message: "acked", room: "r1" });
        assert.strictEqual(msgAck.status, "ok", JSON.stringify(msgAck));
        const [m] = await alice.inbox.take("message", undefined, (x) => x.text === "acked");
        assert.strictEqual(m.room, "r1");
        const [firstAck] = await h.emitAck(anon, "send-message", { message: "x" });
        assert.deepStrictEqual(firstAck, { status: "error", error: "Join first" });
        const [pmAck] = await h.emitAck(alice, "private-message", { to: "nobody", message: "x" });
        assert.deepStrictEqual(pmAck, { status: "error", error: "Recipient not found" });
        // Answered through the acks: no `error` event besides.
        await c.assertNone([alice, anon], "error");
      }),
    );

    it("events before join: error 'Join first'", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const bob = await joined(server, "bob");
        const anon = await chatNs(server);
        for (const [event, payload] of [
          ["send-message", { message: "hi" }],
          ["join-room", "r1"],
          ["leave-room", "r1"],
          ["private-message", { to: bob.id, message: "hi" }],
          ["typing", {}],
          ["stop-typing", {}],
        ]) {
          anon.emit(event, payload);
          const [err] = await anon.inbox.take("error");
          assert.deepStrictEqual(err, { message: "Join first" }, event);
        }
        for (const ev of ["message", "private-message", "user-typing", "user-stop-typing", "user-joined-room"]) {
          await c.assertNone(bob, ev, 0);
        }
        await c.assertNone([bob, anon], "message");
      }),
    );

    it("/admin: refused without the credential; admin-broadcast reaches every client of / only", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const none = await h.connectError(`${server.url}/admin`);
        assert.strictEqual(none.message, "Authentication error: admin credential required");
        const wrong = await h.connectError(`${server.url}/admin`, { auth: { token: "nope" } });
        assert.match(wrong.message, /^Authentication error/);

        const rootWs = await c.chatConnect(server.url, { transports: ["websocket"] });
        const rootPoll = await c.chatConnect(server.url, { transports: ["polling"] });
        const chat = await joined(server, "alice");
        const admin = await c.chatConnect(`${server.url}/admin`, { auth: { token: ADMIN_TOKEN } });
        const data = { text: "maintenance at 5", level: "warn" };
        const [ack] = await h.emitAck(admin, "admin-broadcast", data);
        assert.deepStrictEqual(ack, { status: "ok" });
        for (const m of await c.takeAll([rootWs, rootPoll], "admin-message")) assert.deepStrictEqual(m, data);
        await c.assertNone([chat, admin], "admin-message");
        // Without an ack as well.
        admin.emit("admin-broadcast", "plain string");
        for (const m of await c.takeAll([rootWs, rootPoll], "admin-message")) assert.strictEqual(m, "plain string");
      }),
    );
  });

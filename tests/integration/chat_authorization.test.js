// Chat app, authorization with --jwt-secret (docs/chat-protocol.md "Authorization"):
// every write acts as the token's identity, conversations have participants (over
// Socket.IO and over HTTP, kept in the store across a restart), the backend manages
// participants, JWT claims (exp required, nbf, an identity claim), `identify` bound to the
// token, room chat names from the token; and anonymous mode: unchanged, warned at start.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const SECRET = "authz-secret";
const API_KEY = "k";
const ARGS = ["--jwt-secret", SECRET, "--api-key", API_KEY, "--rate-limit", "1000"];

const NOT_PARTICIPANT = "Forbidden: not a participant of this conversation";
const NOT_SENDER = "Forbidden: senderId is not the authenticated user";
const NOT_USER = "Forbidden: userId is not the authenticated user";

function token(claims, secret = SECRET) {
  return c.jwt({ iat: c.nowSec(), exp: c.nowSec() + 3600, ...claims }, secret);
}

function as(server, userId, opts = {}) {
  return c.chatConnect(server.url, { auth: { token: token({ userId, username: userId.toUpperCase() }) }, ...opts });
}

function bearer(userId) {
  return { Authorization: `Bearer ${token({ userId })}` };
}

function msg(conversationId, senderId, content) {
  return { conversationId, senderId, content, type: "text" };
}

async function join(socket, room) {
  const [ack] = await h.emitAck(socket, "joinRoom", room);
  assert.deepStrictEqual(ack, { status: "ok", room });
}

async function send(socket, payload) {
  const [ack] = await h.emitAck(socket, "sendMessage", payload);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
  return ack.id;
}

function messagesUrl(server, conversation) {
  return `${server.url}/api/conversations/${encodeURIComponent(conversation)}/messages`;
}

function participants(server, conversation, { method = "GET", body, user } = {}) {
  const path = `/api/conversations/${encodeURIComponent(conversation)}/participants${user ? `/${user}` : ""}`;
  return c.httpJson(`${server.url}${path}`, { method, body, headers: { "X-API-Key": API_KEY } });
}

/** An ack `{status:"error", error}` with exactly this error; the same as messageError without an ack. */
async function refused(socket, event, payload, error) {
  const [ack] = await h.emitAck(socket, event, payload);
  assert.deepStrictEqual(ack, { status: "error", error }, `${event} ${JSON.stringify(payload)}`);
  socket.emit(event, payload);
  const [e] = await socket.inbox.take("messageError");
  assert.deepStrictEqual(e, { error }, `${event} without an ack`);
}

if (!harness.isReference()) {
  describe("chat authorization: writes act as the token's identity", () => {
    afterEach(() => h.cleanup());

    it("sendMessage with another user's senderId is refused; as oneself it is stored and broadcast", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const bob = await as(server, "bob");
        await join(alice, "conv-w");
        await join(bob, "conv-w");
        await refused(alice, "sendMessage", msg("conv-w", "bob", "spoofed"), NOT_SENDER);
        await send(alice, msg("conv-w", "alice", "mine"));
        const [got] = await bob.inbox.take("receiveMessage");
        assert.strictEqual(got.message.senderId, "alice");
        assert.strictEqual(got.message.content, "mine");
        await c.assertNone([alice, bob], "receiveMessage", h.SETTLE_MS, (m) => m.message.content === "spoofed");
        const page = await c.history(server.url, "conv-w", {}, bearer("bob"));
        assert.deepStrictEqual(page.messages.map((m) => m.content), ["mine"]);
      }),
    );

    it("editMessage / deleteMessage: only the author, and only under the token's id", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const bob = await as(server, "bob");
        await join(alice, "conv-e");
        await join(bob, "conv-e");
        const id = await send(alice, msg("conv-e", "alice", "original"));
        const edit = (senderId, content) => ({ conversationId: "conv-e", messageId: id, senderId, content });
        // bob claiming to be alice, then bob as bob (not the author).
        await refused(bob, "editMessage", edit("alice", "hijacked"), NOT_SENDER);
        await refused(bob, "editMessage", edit("bob", "hijacked"), "Forbidden");
        await refused(bob, "deleteMessage", { conversationId: "conv-e", messageId: id, senderId: "alice" }, NOT_SENDER);
        await refused(bob, "deleteMessage", { conversationId: "conv-e", messageId: id, senderId: "bob" }, "Forbidden");
        const [ok] = await h.emitAck(alice, "editMessage", edit("alice", "edited"));
        assert.strictEqual(ok.status, "ok");
        const [edited] = await bob.inbox.take("messageEdited");
        assert.strictEqual(edited.message.content, "edited");
        const [del] = await h.emitAck(alice, "deleteMessage", { conversationId: "conv-e", messageId: id, senderId: "alice" });
        assert.strictEqual(del.status, "ok");
        await bob.inbox.take("messageDeleted");
      }),
    );

    it("markDelivered / markRead only as oneself; typing only as oneself", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const bob = await as(server, "bob");
        await join(alice, "conv-r");
        await join(bob, "conv-r");
        const id = await send(alice, msg("conv-r", "alice", "read me"));
        const receipt = (userId) => ({ conversationId: "conv-r", messageId: id, userId });
        await refused(bob, "markRead", receipt("alice"), NOT_USER);
        await refused(bob, "markDelivered", receipt("alice"), NOT_USER);
        await refused(bob, "typing", { conversationId: "conv-r", userId: "alice" }, NOT_USER);
        const [ok] = await h.emitAck(bob, "markRead", receipt("bob"));
        assert.deepStrictEqual(ok, { status: "ok" });
        const [read] = await alice.inbox.take("messageRead");
        assert.strictEqual(read.userId, "bob");
        await c.assertNone(alice, "messageRead", h.SETTLE_MS, (r) => r.userId === "alice");
        const page = await c.history(server.url, "conv-r", {}, bearer("alice"));
        assert.deepStrictEqual(page.messages[0].readBy, ["bob"]);
        const [typed] = await h.emitAck(bob, "typing", { conversationId: "conv-r", userId: "bob" });
        assert.deepStrictEqual(typed, { status: "ok" });
        const [t] = await alice.inbox.take("userTyping");
        assert.deepStrictEqual(t, { conversationId: "conv-r", userId: "bob" });
      }),
    );

    it("POST /api/conversations/{id}/messages: senderId must be the Bearer token's user", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        await join(alice, "conv-h");
        const spoof = await c.httpJson(messagesUrl(server, "conv-h"), {
          method: "POST",
          headers: bearer("alice"),
          body: msg("conv-h", "bob", "spoofed"),
        });
        assert.strictEqual(spoof.status, 403, spoof.body);
        assert.deepStrictEqual(spoof.json, { error: NOT_SENDER });
        const ok = await c.httpJson(messagesUrl(server, "conv-h"), {
          method: "POST",
          headers: bearer("alice"),
          body: msg("conv-h", "alice", "over http"),
        });
        assert.strictEqual(ok.status, 201, ok.body);
        const [got] = await alice.inbox.take("receiveMessage");
        assert.strictEqual(got.message.content, "over http");
      }),
    );
  });

  describe("chat authorization: conversation participants", () => {
    afterEach(() => h.cleanup());

    it("a non-participant cannot send, read history, mark or type; joining makes a participant", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const carol = await as(server, "carol");
        await join(alice, "conv-p");
        const id = await send(alice, msg("conv-p", "alice", "members only"));
        // carol never joined conv-p.
        await refused(carol, "sendMessage", msg("conv-p", "carol", "intruding"), NOT_PARTICIPANT);
        await refused(carol, "markRead", { conversationId: "conv-p", messageId: id, userId: "carol" }, NOT_PARTICIPANT);
        await refused(carol, "typing", { conversationId: "conv-p", userId: "carol" }, NOT_PARTICIPANT);
        const get = await c.httpJson(messagesUrl(server, "conv-p"), { headers: bearer("carol") });
        assert.strictEqual(get.status, 403, get.body);
        assert.deepStrictEqual(get.json, { error: NOT_PARTICIPANT });
        const post = await c.httpJson(messagesUrl(server, "conv-p"), {
          method: "POST",
          headers: bearer("carol"),
          body: msg("conv-p", "carol", "intruding"),
        });
        assert.strictEqual(post.status, 403, post.body);
        assert.deepStrictEqual(post.json, { error: NOT_PARTICIPANT });
        await c.assertNone(alice, ["receiveMessage", "messageRead", "userTyping"], h.SETTLE_MS, (m) => m.userId === "carol" || m.message?.senderId === "carol");
        const mine = await c.httpJson(messagesUrl(server, "conv-p"), { headers: bearer("alice") });
        assert.strictEqual(mine.status, 200, mine.body);
        assert.deepStrictEqual(mine.json.messages.map((m) => m.content), ["members only"]);
        // The conversation is open (the backend never added anyone): carol joins, and may.
        let list = await participants(server, "conv-p");
        assert.deepStrictEqual(list.json, { conversationId: "conv-p", open: true, participants: ["alice"] });
        await join(carol, "conv-p");
        await send(carol, msg("conv-p", "carol", "now a participant"));
        const [got] = await alice.inbox.take("receiveMessage", undefined, (m) => m.message.content === "now a participant");
        assert.strictEqual(got.message.senderId, "carol");
        list = await participants(server, "conv-p");
        assert.deepStrictEqual(list.json.participants, ["alice", "carol"]);
      }),
    );

    it("the backend adds participants and closes the conversation: others cannot join; removal revokes", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        let res = await participants(server, "conv-b", { method: "POST", body: { userIds: ["alice", 42] } });
        assert.strictEqual(res.status, 200, res.body);
        assert.deepStrictEqual(res.json, { conversationId: "conv-b", open: false, participants: ["42", "alice"] });
        const alice = await as(server, "alice");
        const u42 = await as(server, "42");
        const carol = await as(server, "carol");
        const [no] = await h.emitAck(carol, "joinRoom", "conv-b");
        assert.deepStrictEqual(no, { status: "error", error: "Forbidden" });
        carol.emit("joinRoom", "conv-b");
        const [err] = await carol.inbox.take("error");
        assert.deepStrictEqual(err, { message: "Forbidden: conv-b" });
        await join(alice, "conv-b");
        await join(u42, "conv-b");
        // Sending needs no join: a participant may post without being in the room.
        await send(u42, msg("conv-b", 42, "from 42"));
        const [got] = await alice.inbox.take("receiveMessage");
        assert.strictEqual(got.message.senderId, "42");
        const history = await c.httpJson(messagesUrl(server, "conv-b"), { headers: bearer("carol") });
        assert.strictEqual(history.status, 403);
        res = await participants(server, "conv-b", { method: "DELETE", user: "42" });
        assert.deepStrictEqual(res.json, { conversationId: "conv-b", open: false, participants: ["alice"] });
        await refused(u42, "sendMessage", msg("conv-b", "42", "after removal"), NOT_PARTICIPANT);
        res = await participants(server, "conv-b", { method: "DELETE", user: "42" });
        assert.strictEqual(res.status, 404, res.body);
        // The backend API needs its key, and answers bad input with 400.
        const noKey = await c.httpJson(`${server.url}/api/conversations/conv-b/participants`);
        assert.strictEqual(noKey.status, 401);
        for (const body of [{}, { userIds: [] }, { userIds: "alice" }, { userIds: [{}] }, "not json"]) {
          res = await participants(server, "conv-b", { method: "POST", body });
          assert.strictEqual(res.status, 400, `${JSON.stringify(body)}: ${res.status} ${res.body}`);
        }
      }),
    );

    it("private-chat.{a-b}: a and b are its participants, whoever joined", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const bob = await as(server, "bob");
        const carol = await as(server, "carol");
        const room = "private-chat.alice-bob";
        await join(bob, room);
        await send(alice, msg(room, "alice", "hi bob")); // alice never joined
        const [got] = await bob.inbox.take("receiveMessage");
        assert.strictEqual(got.message.content, "hi bob");
        await refused(carol, "sendMessage", msg(room, "carol", "hi"), NOT_PARTICIPANT);
        const [no] = await h.emitAck(carol, "joinRoom", room);
        assert.deepStrictEqual(no, { status: "error", error: "Forbidden" });
        assert.strictEqual((await c.httpJson(messagesUrl(server, room), { headers: bearer("carol") })).status, 403);
        assert.strictEqual((await c.httpJson(messagesUrl(server, room), { headers: bearer("alice") })).status, 200);
        const list = await participants(server, room);
        assert.deepStrictEqual(list.json, { conversationId: room, open: false, participants: ["alice", "bob"] });
        const add = await participants(server, room, { method: "POST", body: { userIds: ["carol"] } });
        assert.strictEqual(add.status, 400, add.body);
      }),
    );

    it("participation is stored: after a restart a participant reads over HTTP, others still cannot", TEST_TIMEOUT, async () => {
      const first = await c.startChat(ARGS);
      let db;
      try {
        db = first.db;
        const alice = await as(first, "alice");
        await join(alice, "conv-kept");
        await send(alice, msg("conv-kept", "alice", "before the restart"));
      } finally {
        await h.cleanup();
        await first.stop();
      }
      await c.withChat(
        ARGS,
        async (server) => {
          const mine = await c.httpJson(messagesUrl(server, "conv-kept"), { headers: bearer("alice") });
          assert.strictEqual(mine.status, 200, mine.body);
          assert.deepStrictEqual(mine.json.messages.map((m) => m.content), ["before the restart"]);
          const theirs = await c.httpJson(messagesUrl(server, "conv-kept"), { headers: bearer("mallory") });
          assert.strictEqual(theirs.status, 403, theirs.body);
        },
        { db },
      );
    });

    it("--open-conversations false: only participants the backend added may join", TEST_TIMEOUT, () =>
      c.withChat([...ARGS, "--open-conversations", "false"], async (server) => {
        const alice = await as(server, "alice");
        const [no] = await h.emitAck(alice, "joinRoom", "conv-closed");
        assert.deepStrictEqual(no, { status: "error", error: "Forbidden" });
        await refused(alice, "sendMessage", msg("conv-closed", "alice", "x"), NOT_PARTICIPANT);
        const res = await participants(server, "conv-closed", { method: "POST", body: { userIds: ["alice"] } });
        assert.strictEqual(res.status, 200, res.body);
        await join(alice, "conv-closed");
        await send(alice, msg("conv-closed", "alice", "added by the backend"));
        // Rooms named for their users need no backend.
        await join(alice, "private-user.alice");
      }),
    );
  });

  describe("chat authorization: JWT claims and identify", () => {
    afterEach(() => h.cleanup());

    for (const nsp of ["/", "/chat"]) {
      it(`${nsp}: exp required, exp and nbf numeric, nbf honoured, an identity claim required`, TEST_TIMEOUT, () =>
        c.withChat(ARGS, async (server) => {
          const url = `${server.url}${nsp === "/" ? "" : nsp}`;
          const refusedWith = async (claims, message) => {
            const err = await h.connectError(url, { auth: { token: c.jwt(claims, SECRET) } });
            assert.strictEqual(err.message, message, JSON.stringify(claims));
          };
          const now = c.nowSec();
          await refusedWith({ userId: "u1" }, "Authentication error: Token has no exp");
          await refusedWith({ userId: "u1", exp: String(now + 3600) }, "Authentication error: Invalid token");
          await refusedWith({ userId: "u1", exp: null }, "Authentication error: Invalid token");
          await refusedWith({ userId: "u1", exp: now + 3600, nbf: now + 600 }, "Authentication error: Token not yet valid");
          await refusedWith({ userId: "u1", exp: now + 3600, nbf: "yesterday" }, "Authentication error: Invalid token");
          await refusedWith({ username: "no id", exp: now + 3600 }, "Authentication error: Token has no user id");
          await refusedWith({ userId: {}, exp: now + 3600 }, "Authentication error: Token has no user id");
          const ok = await c.chatConnect(url, { auth: { token: c.jwt({ userId: "u1", exp: now + 3600, nbf: now - 5 }, SECRET) } });
          assert.ok(ok.connected);
          // A numeric id (seed 003's tokens: {id: Date.now(), username}).
          const numeric = await c.chatConnect(url, { auth: { token: c.jwt({ id: 1733000000000, username: "n", exp: now + 60 }, SECRET) } });
          assert.ok(numeric.connected);
        }),
      );
    }

    it("Bearer tokens follow the same rules", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const url = messagesUrl(server, "private-user.u1");
        const get = (claims) => c.httpJson(url, { headers: { Authorization: `Bearer ${c.jwt(claims, SECRET)}` } });
        const now = c.nowSec();
        assert.strictEqual((await get({ userId: "u1" })).status, 401);
        assert.strictEqual((await get({ userId: "u1", exp: now + 60, nbf: now + 600 })).status, 401);
        assert.strictEqual((await get({ exp: now + 60 })).status, 401);
        assert.strictEqual((await get({ userId: "u1", exp: now + 60 })).status, 200);
      }),
    );

    it("--jwt-require-exp false admits tokens without exp (an expired one still not)", TEST_TIMEOUT, () =>
      c.withChat([...ARGS, "--jwt-require-exp", "false"], async (server) => {
        const ok = await c.chatConnect(server.url, { auth: { token: c.jwt({ userId: "u1" }, SECRET) } });
        assert.ok(ok.connected);
        const err = await h.connectError(server.url, { auth: { token: c.jwt({ userId: "u1", exp: c.nowSec() - 5 }, SECRET) } });
        assert.strictEqual(err.message, "Authentication error: Token expired");
      }),
    );

    it("identify cannot claim another user's id, nor receive that user's private-user emits", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const alice = await as(server, "alice");
        const [ack] = await h.emitAck(alice, "identify", { userId: "bob", platform: "web", appVersion: "1" });
        assert.deepStrictEqual(ack, { status: "error", error: NOT_USER });
        alice.emit("identify", { userId: "bob", platform: "web", appVersion: "1" });
        const [err] = await alice.inbox.take("error");
        assert.deepStrictEqual(err, { message: NOT_USER });
        await c.assertNone(alice, "identified");
        const res = await c.httpJson(`${server.url}/api/emit`, {
          method: "POST",
          headers: { "X-API-Key": API_KEY },
          body: { event: "secret", data: { for: "bob" }, userId: "bob" },
        });
        assert.strictEqual(res.status, 200);
        await c.assertNone(alice, "secret");
        const [own] = await h.emitAck(alice, "identify", { userId: "alice", platform: "web", appVersion: "1" });
        assert.deepStrictEqual(own, { status: "ok" });
        await alice.inbox.take("identified");
      }),
    );

    it("/chat: the username comes from the token, and so does a private message's sender", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const url = `${server.url}/chat`;
        const alice = await c.chatConnect(url, { auth: { token: token({ userId: "u-a", username: "Alice" }) } });
        const bob = await c.chatConnect(url, { auth: { token: token({ userId: "u-b" }) } });
        alice.emit("join", "Bob the Admin");
        const [joined] = await alice.inbox.take("join-success");
        assert.deepStrictEqual(joined, { socketId: alice.id, username: "Alice" });
        bob.emit("join", "anything");
        const [bobJoined] = await bob.inbox.take("join-success");
        assert.strictEqual(bobJoined.username, "u-b"); // no username claim: the user id
        alice.emit("private-message", { to: bob.id, message: "psst" });
        const [pm] = await bob.inbox.take("private-message");
        assert.strictEqual(pm.from, "Alice");
        assert.strictEqual(pm.text, "psst");
      }),
    );
  });

  describe("chat anonymous mode (no --jwt-secret)", () => {
    afterEach(() => h.cleanup());

    it("warns once at start that identities are not verified; ids in payloads are taken as sent", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "1000"], async (server) => {
        await h.waitFor(() => /identities are not verified/.test(server.stderr()), 3000, "the warning");
        assert.strictEqual(server.stderr().match(/identities are not verified/g).length, 1, server.stderr());
        assert.match(server.stderr(), /\[warn(ing)?\][^\n]*identities are not verified/);
        const a = await c.chatConnect(server.url);
        const b = await c.chatConnect(server.url, { auth: { userId: "b" } });
        await join(b, "anon");
        await send(a, msg("anon", "anyone", "no participants checked")); // a never joined
        const [got] = await b.inbox.take("receiveMessage");
        assert.strictEqual(got.message.senderId, "anyone");
        const [ok] = await h.emitAck(a, "markRead", { conversationId: "anon", messageId: got.message.id, userId: "b" });
        assert.deepStrictEqual(ok, { status: "ok" });
        const res = await c.httpJson(messagesUrl(server, "anon"));
        assert.strictEqual(res.status, 200);
      }),
    );

    it("no warning with --jwt-secret", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        await as(server, "alice"); // the server is up and has logged its start
        assert.doesNotMatch(server.stderr(), /identities are not verified/);
      }),
    );
  });
}

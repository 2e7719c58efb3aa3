// Chat app, authentication (docs/chat-protocol.md §4) with HS256 tokens made here, and
// HTTP (§6): /health, the backend API behind X-API-Key (emit to namespace / room /
// user, connections, presence, a user's conversations) and the Bearer requirement of
// the conversation endpoints.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const SECRET = "jwt-test-secret";
const API_KEY = "k";

function token(claims, secret = SECRET) {
  return c.jwt({ iat: c.nowSec(), exp: c.nowSec() + 3600, ...claims }, secret);
}

function api(server, path, { method = "GET", body, key = API_KEY } = {}) {
  const headers = key === null ? {} : { "X-API-Key": key };
  return c.httpJson(`${server.url}${path}`, { method, body, headers });
}

function byUserId(list) {
  return [...list].sort((x, y) => (x.user_id < y.user_id ? -1 : 1));
}

if (!harness.isReference()) {
  describe("chat authentication (§4)", () => {
    afterEach(() => h.cleanup());
    const ARGS = ["--jwt-secret", SECRET, "--admin-token", "s3cret"];

    for (const nsp of ["/", "/chat"]) {
      it(`${nsp}: refused without a token, with a bad signature, malformed or expired`, TEST_TIMEOUT, () =>
        c.withChat(ARGS, async (server) => {
          const url = `${server.url}${nsp === "/" ? "" : nsp}`;
          const none = await h.connectError(url);
          assert.strictEqual(none.message, "Authentication error: No token provided");
          const emptyAuth = await h.connectError(url, { auth: {} });
          assert.strictEqual(emptyAuth.message, "Authentication error: No token provided");
          const badSig = await h.connectError(url, { auth: { token: token({ userId: "u1" }, "other-secret") } });
          assert.strictEqual(badSig.message, "Authentication error: Invalid token");
          const garbage = await h.connectError(url, { auth: { token: "not.a.jwt" } });
          assert.strictEqual(garbage.message, "Authentication error: Invalid token");
          const noneAlg = c.jwt({ userId: "u1", exp: c.nowSec() + 3600 }, SECRET, { alg: "none", typ: "JWT" });
          const algNone = await h.connectError(url, { auth: { token: noneAlg.split(".").slice(0, 2).join(".") + "." } });
          assert.match(algNone.message, /^Authentication error/);
          const expired = await h.connectError(url, { auth: { token: token({ userId: "u1", exp: c.nowSec() - 60 }) } });
          assert.match(expired.message, /^Authentication error/);
          assert.strictEqual(expired.message, "Authentication error: Token expired");
          // A valid one connects.
          const ok = await c.chatConnect(url, { auth: { token: token({ userId: "u1", username: "U1" }) } });
          assert.ok(ok.connected);
        }),
      );
    }

    it("the token is the identity: presence member, private-user room; handshake userId ignored", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await c.chatConnect(server.url, {
          auth: { token: token({ userId: "jwt-user", username: "Jay" }), userId: "evil", username: "Evil" },
        });
        const [ack] = await h.emitAck(a, "joinRoom", "presence-auth");
        assert.deepStrictEqual({ ...ack, members: ack.members.map(c.member) }, {
          status: "ok",
          room: "presence-auth",
          members: [{ user_id: "jwt-user", user_info: { name: "Jay" } }],
        });
        const [mine] = await h.emitAck(a, "joinRoom", "private-user.jwt-user");
        assert.deepStrictEqual(mine, { status: "ok", room: "private-user.jwt-user" });
        const [evil] = await h.emitAck(a, "joinRoom", "private-user.evil");
        assert.deepStrictEqual(evil, { status: "error", error: "Forbidden" });

        // sub / name claims.
        const b = await c.chatConnect(server.url, { auth: { token: token({ sub: "sub-user", name: "Sub" }) } });
        const [ackB] = await h.emitAck(b, "joinRoom", "presence-auth");
        assert.deepStrictEqual(byUserId(ackB.members).map(c.member), [
          { user_id: "jwt-user", user_info: { name: "Jay" } },
          { user_id: "sub-user", user_info: { name: "Sub" } },
        ]);
        const [joined] = await a.inbox.take("user.joined");
        assert.deepStrictEqual(c.member(joined), { user_id: "sub-user", user_info: { name: "Sub" } });
        // id claim.
        const d = await c.chatConnect(server.url, { auth: { token: token({ id: "idclaim" }) } });
        const [ackD] = await h.emitAck(d, "joinRoom", "private-user.idclaim");
        assert.deepStrictEqual(ackD, { status: "ok", room: "private-user.idclaim" });
        const [ackChat] = await h.emitAck(d, "joinRoom", "private-chat.idclaim-other");
        assert.deepStrictEqual(ackChat, { status: "ok", room: "private-chat.idclaim-other" });
        const [refused] = await h.emitAck(b, "joinRoom", "private-chat.12-34");
        assert.deepStrictEqual(refused, { status: "error", error: "Forbidden" });
      }),
    );

    it("/admin admits a JWT with role admin, refuses other tokens", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const root = await c.chatConnect(server.url, { auth: { token: token({ userId: "r" }) } });
        const plain = await h.connectError(`${server.url}/admin`, { auth: { token: token({ userId: "x", role: "user" }) } });
        assert.strictEqual(plain.message, "Authentication error: admin credential required");
        const admin = await c.chatConnect(`${server.url}/admin`, { auth: { token: token({ userId: "boss", role: "admin" }) } });
        const [ack] = await h.emitAck(admin, "admin-broadcast", { n: 1 });
        assert.deepStrictEqual(ack, { status: "ok" });
        const [m] = await root.inbox.take("admin-message");
        assert.deepStrictEqual(m, { n: 1 });
        // The admin token of --admin-token works alongside.
        const admin2 = await c.chatConnect(`${server.url}/admin`, { auth: { token: "s3cret" } });
        assert.ok(admin2.connected);
      }),
    );

    it("conversation endpoints need Authorization: Bearer <jwt>", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const url = `${server.url}/api/conversations/cauth/messages`;
        const noAuth = await c.httpJson(url);
        assert.ok(noAuth.status === 401 || noAuth.status === 403, `GET without a token: ${noAuth.status} ${noAuth.body}`);
        const badAuth = await c.httpJson(url, { headers: { Authorization: `Bearer ${token({ userId: "u" }, "wrong")}` } });
        assert.ok(badAuth.status === 401 || badAuth.status === 403, `GET with a bad token: ${badAuth.status}`);
        const postNoAuth = await c.httpJson(url, { method: "POST", body: { senderId: "u", content: "x", type: "text" } });
        assert.ok(postNoAuth.status === 401 || postNoAuth.status === 403, `POST without a token: ${postNoAuth.status}`);
        const bearer = { Authorization: `Bearer ${token({ userId: "u" })}` };
        // Only a participant of the conversation may post and read: u joins it first.
        const u = await c.chatConnect(server.url, { auth: { token: token({ userId: "u" }) } });
        const [joined] = await h.emitAck(u, "joinRoom", "cauth");
        assert.deepStrictEqual(joined, { status: "ok", room: "cauth" });
        const post = await c.httpJson(url, { method: "POST", headers: bearer, body: { senderId: "u", content: "x", type: "text" } });
        assert.strictEqual(post.status, 201, post.body);
        const get = await c.httpJson(url, { headers: bearer });
        assert.strictEqual(get.status, 200, get.body);
        assert.deepStrictEqual(get.json.messages, [post.json.message]);
      }),
    );
  });

  describe("chat HTTP (§6)", () => {
    afterEach(() => h.cleanup());
    const ARGS = ["--api-key", API_KEY, "--rate-limit", "1000"];

    it("GET /health: status, uptime, connection and message counts", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const first = await c.httpJson(`${server.url}/health`);
        assert.strictEqual(first.status, 200);
        assert.match(first.headers["content-type"], /application\/json/);
        c.assertKeys(first.json, ["status", "uptime", "connections", "sockets", "messages"], "health");
        c.assertKeys(first.json.messages, ["conversation", "platform"], "health messages");
        assert.strictEqual(first.json.status, "ok");
        for (const v of [first.json.uptime, first.json.connections, first.json.sockets, first.json.messages.conversation, first.json.messages.platform]) {
          assert.strictEqual(typeof v, "number");
          assert.ok(v >= 0);
        }
        assert.strictEqual(first.json.connections, 0);
        assert.strictEqual(first.json.sockets, 0);

        const a = await c.chatConnect(server.url);
        const mux = c.chatClient(server.url);
        const muxChat = c.withInbox(h.track(mux.io.socket("/chat")));
        await h.connected(mux);
        await h.connected(muxChat);
        await h.emitAck(a, "send-message", { sender: "s", text: "t", platform: "web" });
        await h.emitAck(a, "sendMessage", { conversationId: "hc", senderId: "s", content: "c", type: "text" });
        await h.emitAck(a, "sendMessage", { conversationId: "hc", senderId: "s", content: "d", type: "text" });
        const after = (await c.httpJson(`${server.url}/health`)).json;
        // 2 Engine.IO clients; `sockets` counts at least the 2 sockets of / (whether the
        // /chat one counts too, §6 does not say).
        assert.strictEqual(after.connections, 2);
        assert.ok(after.sockets === 2 || after.sockets === 3, `sockets ${after.sockets}`);
        assert.strictEqual(after.messages.platform, first.json.messages.platform + 1);
        assert.strictEqual(after.messages.conversation, first.json.messages.conversation + 2);
        await h.cleanup();
        await h.waitFor(async () => {
          const j = (await c.httpJson(`${server.url}/health`)).json;
          return j.connections === 0 && j.sockets === 0;
        }, 3000, "connections and sockets back to 0");
      }),
    );

    it("backend API: 401 without or with a wrong X-API-Key, 503 when no key is configured", TEST_TIMEOUT, async () => {
      await c.withChat(ARGS, async (server) => {
        const paths = [
          ["POST", "/api/emit", { event: "x" }],
          ["GET", "/api/connections"],
          ["GET", "/api/presence/presence-x"],
          ["GET", "/api/users/u1/conversations"],
          ["GET", "/api/users/u1/status"],
        ];
        for (const [method, path, body] of paths) {
          for (const key of [null, "wrong"]) {
            const res = await api(server, path, { method, body, key });
            assert.strictEqual(res.status, 401, `${method} ${path} key=${key}: ${res.status} ${res.body}`);
            assert.deepStrictEqual(res.json, { error: "Invalid API key" });
          }
          const res = await api(server, path, { method, body });
          // An unknown user's status may be 404; everything else answers 200.
          const okStatuses = path.endsWith("/status") ? [200, 404] : [200];
          assert.ok(okStatuses.includes(res.status), `${method} ${path} with the key: ${res.status} ${res.body}`);
        }
      });
      await c.withChat([], async (server) => {
        const res = await api(server, "/api/emit", { method: "POST", body: { event: "x" } });
        assert.strictEqual(res.status, 503, res.body);
        const res2 = await api(server, "/api/connections");
        assert.strictEqual(res2.status, 503, res2.body);
      });
    });

    it("POST /api/emit: to the namespace, to /chat, to a room, to a user's sockets", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const plain = await c.chatConnect(server.url);
        const inRoom = await c.chatConnect(server.url);
        const user1 = await c.chatConnect(server.url, { auth: { userId: "api-user" } });
        const user2 = await c.chatConnect(server.url, { transports: ["polling"], auth: { userId: "api-user" } });
        const identified = await c.chatConnect(server.url);
        identified.emit("identify", { userId: "api-user2", platform: "web", appVersion: "1" });
        await identified.inbox.take("identified");
        const chat = await c.chatConnect(`${server.url}/chat`);
        await h.emitAck(inRoom, "joinRoom", "api-room");
        const rootAll = [plain, inRoom, user1, user2, identified];

        let res = await api(server, "/api/emit", { method: "POST", body: { event: "news", data: { n: 1 } } });
        assert.strictEqual(res.status, 200, res.body);
        assert.deepStrictEqual(res.json, { status: "ok" });
        for (const d of await c.takeAll(rootAll, "news")) assert.deepStrictEqual(d, { n: 1 });
        await c.assertNone(chat, "news");

        res = await api(server, "/api/emit", { method: "POST", body: { event: "news", data: { n: 2 }, namespace: "/chat" } });
        assert.deepStrictEqual(res.json, { status: "ok" });
        const [d2] = await chat.inbox.take("news");
        assert.deepStrictEqual(d2, { n: 2 });
        await c.assertNone(rootAll, "news");

        res = await api(server, "/api/emit", { method: "POST", body: { event: "news", data: { n: 3 }, room: "api-room" } });
        assert.deepStrictEqual(res.json, { status: "ok" });
        const [d3] = await inRoom.inbox.take("news");
        assert.deepStrictEqual(d3, { n: 3 });
        await c.assertNone([plain, user1, user2, identified, chat], "news");

        res = await api(server, "/api/emit", { method: "POST", body: { event: "news", data: { n: 4 }, userId: "api-user" } });
        assert.deepStrictEqual(res.json, { status: "ok" });
        for (const d of await c.takeAll([user1, user2], "news")) assert.deepStrictEqual(d, { n: 4 });
        await c.assertNone([plain, inRoom, identified, chat], "news");

        // A userId from identify puts the socket in private-user.{userId} too.
        res = await api(server, "/api/emit", { method: "POST", body: { event: "news", data: { n: 5 }, userId: "api-user2" } });
        assert.deepStrictEqual(res.json, { status: "ok" });
        const [d5] = await identified.inbox.take("news");
        assert.deepStrictEqual(d5, { n: 5 });
        await c.assertNone([plain, inRoom, user1, user2, chat], "news");
      }),
    );

    it("GET /api/connections: active connections with identify details and counts by platform", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const specs = [
          ["uc1", "ios", "1.0"],
          ["uc2", "ios", "1.1"],
          ["uc3", "android", "2.0"],
        ];
        const sockets = [];
        const t0 = Date.now();
        for (const [userId, platform, appVersion] of specs) {
          const s = await c.chatConnect(server.url);
          s.emit("identify", { userId, platform, appVersion });
          await s.inbox.take("identified");
          sockets.push(s);
        }
        let res = await api(server, "/api/connections");
        assert.strictEqual(res.status, 200, res.body);
        c.assertKeys(res.json, ["total", "active", "byPlatform", "connections"], "connections");
        assert.strictEqual(res.json.active, 3);
        assert.strictEqual(res.json.total, 3);
        assert.deepStrictEqual(res.json.byPlatform, { ios: 2, android: 1 });
        assert.strictEqual(res.json.connections.length, 3);
        for (let i = 0; i < 3; i++) {
          const conn = res.json.connections.find((x) => x.socketId === sockets[i].id);
          assert.ok(conn, `no connection for ${sockets[i].id}`);
          c.assertKeys(conn, ["socketId", "userId", "platform", "appVersion", "connectedAt", "disconnectedAt", "active"], "connection");
          assert.strictEqual(conn.userId, specs[i][0]);
          assert.strictEqual(conn.platform, specs[i][1]);
          assert.strictEqual(conn.appVersion, specs[i][2]);
          assert.strictEqual(conn.active, true);
          assert.strictEqual(conn.disconnectedAt, null);
          assert.strictEqual(typeof conn.connectedAt, "number");
          assert.ok(conn.connectedAt >= t0 - 1000 && conn.connectedAt <= Date.now() + 1000);
        }

        const goneId = sockets[0].id;
        sockets[0].disconnect();
        await h.waitFor(async () => (await api(server, "/api/connections")).json.active === 2, 3000, "active to drop to 2");
        res = await api(server, "/api/connections");
        assert.strictEqual(res.json.total, 3); // every connection is kept
        assert.deepStrictEqual(res.json.connections.map((x) => x.socketId).sort(), [sockets[1].id, sockets[2].id].sort());
        assert.ok(!res.json.connections.some((x) => x.socketId === goneId));
      }),
    );

    it("GET /api/presence/{room}: the members by user", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await c.chatConnect(server.url, { auth: { userId: "pa", username: "Alice" } });
        const b = await c.chatConnect(server.url, { auth: { userId: "pb", username: "Bob" } });
        const b2 = await c.chatConnect(server.url, { auth: { userId: "pb", username: "Bob" } });
        for (const s of [a, b, b2]) await h.emitAck(s, "joinRoom", "presence-api");
        let res = await api(server, "/api/presence/presence-api");
        assert.strictEqual(res.status, 200, res.body);
        c.assertKeys(res.json, ["room", "members"], "presence");
        assert.strictEqual(res.json.room, "presence-api");
        assert.deepStrictEqual(byUserId(res.json.members).map(c.member), [
          { user_id: "pa", user_info: { name: "Alice" } },
          { user_id: "pb", user_info: { name: "Bob" } },
        ]);
        a.disconnect();
        await b.inbox.take("user.left");
        res = await api(server, "/api/presence/presence-api");
        assert.deepStrictEqual(
          { ...res.json, members: res.json.members.map(c.member) },
          { room: "presence-api", members: [{ user_id: "pb", user_info: { name: "Bob" } }] },
        );
        res = await api(server, "/api/presence/presence-empty");
        assert.deepStrictEqual(res.json, { room: "presence-empty", members: [] });
      }),
    );

    it("GET / serves the chat page, GET /socket.io/socket.io.js the client bundle (§7)", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const page = await h.request(`${server.url}/`);
        assert.strictEqual(page.status, 200);
        assert.match(String(page.headers["content-type"]), /^text\/html/);
        assert.match(page.body, /socket\.io\/socket\.io\.js/);
        const bundle = await h.request(`${server.url}/socket.io/socket.io.js`);
        assert.strictEqual(bundle.status, 200);
        assert.match(String(bundle.headers["content-type"]), /javascript/);
        const dist = fs.readFileSync(require.resolve("socket.io-client/dist/socket.io.js"));
        assert.ok(bundle.raw.equals(dist), "the bundle is not socket.io-client's dist/socket.io.js");
      }),
    );

    it("GET /api/users/{id}/conversations: the conversations the user wrote in", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await c.chatConnect(server.url);
        for (const conv of ["uc-one", "uc-two", "uc-one"]) {
          const [ack] = await h.emitAck(a, "sendMessage", { conversationId: conv, senderId: "conv-user", content: conv, type: "text" });
          assert.strictEqual(ack.status, "ok");
        }
        await h.emitAck(a, "sendMessage", { conversationId: "uc-other", senderId: "someone-else", content: "x", type: "text" });
        const res = await api(server, "/api/users/conv-user/conversations");
        assert.strictEqual(res.status, 200, res.body);
        c.assertKeys(res.json, ["userId", "conversations"], "user conversations");
        assert.strictEqual(res.json.userId, "conv-user");
        const convs = [...res.json.conversations].sort((x, y) => (x.conversationId < y.conversationId ? -1 : 1));
        assert.deepStrictEqual(convs.map((x) => x.conversationId), ["uc-one", "uc-two"]);
        for (const conv of convs) {
          c.assertKeys(conv, ["conversationId", "lastMessageAt"], "conversation");
          c.assertIso(conv.lastMessageAt, "lastMessageAt");
        }
        // lastMessageAt is the newest message of the conversation.
        const newestOne = (await c.history(server.url, "uc-one")).messages[0];
        assert.strictEqual(convs[0].lastMessageAt, newestOne.createdAt);
        const none = await api(server, "/api/users/nobody/conversations");
        assert.deepStrictEqual(none.json, { userId: "nobody", conversations: [] });
      }),
    );
  });
}

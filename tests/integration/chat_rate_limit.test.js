// Chat app, the rate limit (docs/chat-protocol.md §1, §2, "Authorization"): keyed by the
// verified user with --jwt-secret, else by the connection and the client address, never
// by a name the client picks; send-message, sendMessage and HTTP posts all count.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const SECRET = "rl-secret";
const LIMITED = { status: "error", error: "Rate limit exceeded" };

function token(userId) {
  return c.jwt({ userId, exp: c.nowSec() + 3600 }, SECRET);
}

async function platformSend(socket, sender, text) {
  const [ack] = await h.emitAck(socket, "send-message", { sender, text, platform: "web" });
  return ack;
}

function post(server, body, headers = {}) {
  return c.httpJson(`${server.url}/api/conversations/${body.conversationId}/messages`, { method: "POST", body, headers });
}

if (!harness.isReference()) {
  describe("chat rate limit", () => {
    afterEach(() => h.cleanup());

    it("anonymous: a new sender name does not reset the limit", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "3"], async (server) => {
        const a = await c.chatConnect(server.url);
        for (let i = 1; i <= 3; i++) assert.strictEqual((await platformSend(a, `name${i}`, `m${i}`)).status, "ok");
        assert.deepStrictEqual(await platformSend(a, "name4", "m4"), LIMITED);
        assert.deepStrictEqual(await platformSend(a, "yet another", "m5"), LIMITED);
        // Nor does an identify: an anonymous userId is a name the client picks too.
        a.emit("identify", { userId: "fresh-id", platform: "web", appVersion: "1" });
        await a.inbox.take("identified");
        assert.deepStrictEqual(await platformSend(a, "name6", "m6"), LIMITED);
      }),
    );

    it("anonymous: new connections from one address share --rate-limit-per-address", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "2", "--rate-limit-per-address", "3"], async (server) => {
        const a = await c.chatConnect(server.url);
        assert.strictEqual((await platformSend(a, "a", "1")).status, "ok");
        assert.strictEqual((await platformSend(a, "a", "2")).status, "ok");
        assert.deepStrictEqual(await platformSend(a, "a", "3"), LIMITED); // the connection's 2
        const b = await c.chatConnect(server.url);
        assert.strictEqual((await platformSend(b, "b", "1")).status, "ok"); // a's refusal cost nothing
        assert.deepStrictEqual(await platformSend(b, "b", "2"), LIMITED); // the address's 3
        a.disconnect();
        const again = await c.chatConnect(server.url); // reconnecting does not help either
        assert.deepStrictEqual(await platformSend(again, "c", "1"), LIMITED);
      }),
    );

    it("with --jwt-secret: by the token's user over all its sockets; another user is unaffected", TEST_TIMEOUT, () =>
      c.withChat(["--jwt-secret", SECRET, "--rate-limit", "2"], async (server) => {
        const one = await c.chatConnect(server.url, { auth: { token: token("alice") } });
        const two = await c.chatConnect(server.url, { auth: { token: token("alice") } });
        const bob = await c.chatConnect(server.url, { auth: { token: token("bob") } });
        assert.strictEqual((await platformSend(one, "Alice", "1")).status, "ok");
        assert.strictEqual((await platformSend(two, "Alice", "2")).status, "ok");
        assert.deepStrictEqual(await platformSend(two, "Someone", "3"), LIMITED);
        assert.deepStrictEqual(await platformSend(one, "Alice", "3"), LIMITED);
        assert.strictEqual((await platformSend(bob, "Bob", "1")).status, "ok");
      }),
    );

    it("sendMessage is limited too (messageError), and POST /api/conversations/{id}/messages (429)", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "2", "--rate-limit-per-address", "4"], async (server) => {
        const a = await c.chatConnect(server.url);
        const m = (content) => ({ conversationId: "rl-conv", senderId: "a", content, type: "text" });
        for (const content of ["1", "2"]) {
          const [ack] = await h.emitAck(a, "sendMessage", m(content));
          assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
        }
        const [limited] = await h.emitAck(a, "sendMessage", m("3"));
        assert.deepStrictEqual(limited, LIMITED);
        a.emit("sendMessage", m("4"));
        const [err] = await a.inbox.take("messageError");
        assert.deepStrictEqual(err, { error: "Rate limit exceeded" });
        // HTTP has no connection: the address's 4, of which the socket used 2.
        assert.strictEqual((await post(server, m("h1"))).status, 201);
        assert.strictEqual((await post(server, m("h2"))).status, 201);
        const over = await post(server, m("h3"));
        assert.strictEqual(over.status, 429, over.body);
        assert.deepStrictEqual(over.json, { error: "Rate limit exceeded" });
        const page = await c.history(server.url, "rl-conv");
        assert.deepStrictEqual(page.messages.map((x) => x.content).sort(), ["1", "2", "h1", "h2"]);
      }),
    );

    it("with --jwt-secret, HTTP posts count against the token's user", TEST_TIMEOUT, () =>
      c.withChat(["--jwt-secret", SECRET, "--rate-limit", "2", "--api-key", "k"], async (server) => {
        const a = await c.chatConnect(server.url, { auth: { token: token("alice") } });
        const [joined] = await h.emitAck(a, "joinRoom", "rl-jwt");
        assert.strictEqual(joined.status, "ok");
        const m = (content) => ({ conversationId: "rl-jwt", senderId: "alice", content, type: "text" });
        const [ack] = await h.emitAck(a, "sendMessage", m("socket"));
        assert.strictEqual(ack.status, "ok");
        const headers = { Authorization: `Bearer ${token("alice")}` };
        assert.strictEqual((await post(server, m("http"), headers)).status, 201);
        assert.strictEqual((await post(server, m("http 2"), headers)).status, 429);
      }),
    );
  });
}

// Engine.IO v3 / Socket.IO v2 clients (APP_PROTOCOL §6: ElephantIO Version2X and other
// backends that connect as Socket.IO v2 clients), with the real npm socket.io-client 2.5.0
// over websocket, polling (binary payloads included) and polling upgraded to websocket.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const ioV2 = require("socket.io-client-v2");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const TRANSPORTS = [["websocket"], ["polling"], ["polling", "websocket"]];

const opened = new Set();
function v2(url, opts = {}) {
  const s = ioV2(url, { forceNew: true, reconnection: false, timeout: 5000, ...opts });
  opened.add(s);
  return s;
}
function closeAll() {
  for (const s of opened) s.close();
  opened.clear();
}
function next(socket, event, ms = 3000) {
  return h.withTimeout(new Promise((resolve) => socket.once(event, (...args) => resolve(args))), ms, event);
}
function emitAck(socket, event, ...args) {
  return h.withTimeout(new Promise((resolve) => socket.emit(event, ...args, (...r) => resolve(r))), 3000, `ack of ${event}`);
}
async function connected(socket) {
  if (socket.connected) return socket;
  await next(socket, "connect");
  return socket;
}

if (!harness.isReference()) {
  describe("Socket.IO v2 clients (Engine.IO v3)", () => {
    afterEach(() => {
      closeAll();
      return h.cleanup();
    });

    for (const transports of TRANSPORTS) {
      const name = transports.join("+");
      it(`platform events over ${name}: identify, send-message with ack, custom-event with binary`, TEST_TIMEOUT, () =>
        c.withChat(["--rate-limit", "100"], async (server) => {
          const a = await connected(v2(server.url, { transports }));
          const b = await connected(v2(server.url, { transports: ["websocket"] }));
          a.emit("identify", { userId: "laravel-1", platform: "laravel", appVersion: "1.0" });
          const [ident] = await next(a, "identified");
          assert.strictEqual(ident.message, "Client identified successfully");

          const gotB = next(b, "receive-message");
          const [ack] = await emitAck(a, "send-message", { sender: "Laravel", text: "backup done", platform: "laravel" });
          assert.strictEqual(ack.status, "ok");
          const [msg] = await gotB;
          assert.deepStrictEqual(
            { sender: msg.sender, text: msg.text, platform: msg.platform },
            { sender: "Laravel", text: "backup done", platform: "laravel" },
          );
          c.assertIso(msg.timestamp);

          const custom = next(b, "custom-event");
          a.emit("custom-event", { eventType: "file", data: Buffer.from([1, 2, 3, 250]) });
          const [ev] = await custom;
          assert.strictEqual(ev.data.eventType, "file");
          assert.deepStrictEqual(Buffer.from(ev.data.data), Buffer.from([1, 2, 3, 250]));

          if (transports.length === 2) {
            await h.waitFor(() => a.io.engine.transport.name === "websocket", 3000, "the upgrade to websocket");
            const again = next(b, "receive-message");
            await emitAck(a, "send-message", { sender: "Laravel", text: "after upgrade", platform: "laravel" });
            assert.strictEqual((await again)[0].text, "after upgrade");
          }
        }),
      );
    }

    it("conversations: joinRoom, sendMessage stored then receiveMessage", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const a = await connected(v2(server.url, { transports: ["polling"] }));
        const b = await connected(v2(server.url, { transports: ["websocket"] }));
        assert.deepStrictEqual((await emitAck(a, "joinRoom", "conv-v2"))[0], { status: "ok", room: "conv-v2" });
        await emitAck(b, "joinRoom", "conv-v2");
        const got = next(b, "receiveMessage");
        const [ack] = await emitAck(a, "sendMessage", { conversationId: "conv-v2", senderId: "7", content: "hi", type: "text" });
        assert.strictEqual(ack.status, "ok");
        const [r] = await got;
        assert.strictEqual(r.conversationId, "conv-v2");
        assert.strictEqual(r.message.id, ack.id);
        const page = await c.history(server.url, "conv-v2");
        assert.strictEqual(page.messages[0].id, ack.id);
      }),
    );

    it("admin namespace with the credential in the query; refusal as an error event", TEST_TIMEOUT, () =>
      c.withChat(["--admin-token", "s3cret"], async (server) => {
        const user = await connected(v2(server.url, { transports: ["websocket"] }));
        const bad = v2(`${server.url}/admin`, { query: { token: "nope" }, transports: ["websocket"] });
        const [err] = await next(bad, "error");
        assert.match(String(err), /^Authentication error/);
        const admin = await connected(v2(`${server.url}/admin`, { query: { token: "s3cret" }, transports: ["polling"] }));
        const got = next(user, "admin-message");
        admin.emit("admin-broadcast", { notice: "maintenance" });
        assert.deepStrictEqual((await got)[0], { notice: "maintenance" });
      }),
    );

    it("JWT in the query when --jwt-secret is set", TEST_TIMEOUT, () =>
      c.withChat(["--jwt-secret", "k"], async (server) => {
        const token = c.jwt({ userId: "v2user", exp: c.nowSec() + 60 }, "k");
        const ok = await connected(v2(server.url, { query: { token }, transports: ["websocket"] }));
        const [ack] = await emitAck(ok, "join", { room: "presence-v2" });
        assert.strictEqual(ack.members[0].user_id, "v2user");
        const refused = v2(server.url, { transports: ["polling"] });
        const [err] = await next(refused, "error");
        assert.strictEqual(err, "Authentication error: No token provided");
      }),
    );

    it("the backend API reaches v2 clients; the echo fixture echoes binary over v3 polling", TEST_TIMEOUT, async () => {
      await c.withChat(["--api-key", "key"], async (server) => {
        const a = await connected(v2(server.url, { transports: ["polling"] }));
        const got = next(a, "notification");
        const res = await c.httpJson(`${server.url}/api/emit`, {
          method: "POST",
          headers: { "X-API-Key": "key" },
          body: { event: "notification", data: { n: 1 } },
        });
        assert.strictEqual(res.status, 200);
        assert.deepStrictEqual((await got)[0], { n: 1 });
      });
      const server = await harness.start(["--allow-eio3", "true"]);
      try {
        const s = await connected(v2(server.url, { transports: ["polling"] }));
        const back = next(s, "message-back");
        s.emit("message", "text ✓", { bin: Buffer.from("bytes") });
        const [text, obj] = await back;
        assert.strictEqual(text, "text ✓");
        assert.deepStrictEqual(Buffer.from(obj.bin), Buffer.from("bytes"));
      } finally {
        closeAll();
        await server.stop();
      }
    });
  });
}

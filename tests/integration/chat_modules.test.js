// Modules sharing a namespace (docs/chat-protocol.md, "Modules and namespaces"): two
// modules that claim one event on one namespace stop the server at start with both
// names; each module can be mounted apart (or not at all) through its namespace setting.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 20000 };

function runChat(args) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-modules-"));
  try {
    return spawnSync(
      process.env.CHAT_SERVER,
      ["--app", "chat", "--db", path.join(dir, "chat.db"), "--host", "127.0.0.1", "--port", "0", ...args],
      { encoding: "utf8", timeout: 10000 },
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (!harness.isReference()) {
  describe("chat modules on namespaces", () => {
    afterEach(() => h.cleanup());

    it("two modules claiming one event on one namespace: exit 2 naming both and the event", TEST_TIMEOUT, () => {
      // Seed 003's room chat on "/" next to the conversations (both take `join`).
      const r = runChat(["--room-chat-namespace", "/"]);
      assert.strictEqual(r.status, 2, `exit ${r.status} ${r.signal}\n${r.stderr}`);
      assert.match(r.stderr, /namespace \/: event 'join' is handled by module 'conversations' and by module 'room-chat'/);
      assert.doesNotMatch(r.stdout, /listening/);
      // Seed 003's basic chat next to its room chat: `join-room` is both's.
      const r2 = runChat(["--room-chat-namespace", "/chat", "--basic-chat-namespace", "/chat"]);
      assert.strictEqual(r2.status, 2, r2.stderr);
      assert.match(r2.stderr, /namespace \/chat: event 'join-room' is handled by module 'basic-chat' and by module 'room-chat'/);
    });

    it("mounted apart, each namespace answers its own module's join-room", TEST_TIMEOUT, () =>
      c.withChat(["--basic-chat-namespace", "/basic", "--realtime-namespace", "/rt"], async (server) => {
        const [basic, rt, root] = await Promise.all(
          ["/basic", "/rt", "/"].map((nsp) => c.chatConnect(`${server.url}${nsp}`, { transports: ["websocket"] })),
        );
        const [basicAck] = await h.emitAck(basic, "join-room", "lobby");
        assert.deepStrictEqual(basicAck, { status: "ok", room: "lobby" });
        await basic.inbox.take("joined-room");
        const [rtAck] = await h.emitAck(rt, "join-room", { room: "lobby" });
        assert.deepStrictEqual(rtAck, { status: "ok", room: "lobby" });
        rt.emit("message.sent", { text: "relayed on /rt" });
        assert.deepStrictEqual((await rt.inbox.take("message.sent"))[0], { text: "relayed on /rt" });
        // "/" keeps the platform and conversations, without seed 003's or 001's events.
        root.emit("join-room", "lobby");
        root.emit("message", { text: "nobody handles this here" });
        await c.assertNone([rt], "joined-room");
        await c.assertNone([root], ["joined-room", "message", "error"]);
        const [pong] = await h.emitAck(root, "ping");
        assert.strictEqual(pong.status, "ok");
      }),
    );

    it("an empty namespace setting leaves the module out", TEST_TIMEOUT, () =>
      c.withChat(["--basic-chat-namespace", "", "--notifications-namespace", ""], async (server) => {
        const root = await c.chatConnect(server.url, { transports: ["websocket"] });
        root.emit("message", { text: "x" });
        await c.assertNone([root], "message");
        const err = await h.connectError(`${server.url}/notifications`, { transports: ["websocket"] });
        assert.strictEqual(err.message, "Invalid namespace");
      }),
    );
  });
}

// Chat app, hostile HTTP input (docs/chat-protocol.md §6, §7): /api/emit refuses the
// event names socket.io reserves and re-emits only valid JSON (1e999 arrives as null),
// bodies that are not JSON are refused, and no file outside --web-root is served
// (symlinks included).
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };
const API_KEY = "k";
const ARGS = ["--api-key", API_KEY, "--rate-limit", "1000"];
const RESERVED = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

function emit(server, body) {
  return c.httpJson(`${server.url}/api/emit`, { method: "POST", body, headers: { "X-API-Key": API_KEY } });
}

if (!harness.isReference()) {
  describe("chat HTTP input", () => {
    afterEach(() => h.cleanup());

    it("/api/emit refuses reserved event names with 400; clients stay connected", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await c.chatConnect(server.url);
        const chat = await c.chatConnect(`${server.url}/chat`);
        let disconnected = false;
        a.on("disconnect", () => (disconnected = true));
        for (const event of RESERVED) {
          for (const namespace of ["/", "/chat"]) {
            const res = await emit(server, { event, data: { n: 1 }, namespace });
            assert.strictEqual(res.status, 400, `${event}: ${res.status} ${res.body}`);
            assert.deepStrictEqual(res.json, { error: `reserved event name: ${event}` });
          }
        }
        const ok = await emit(server, { event: "after", data: { n: 2 } });
        assert.strictEqual(ok.status, 200);
        const [after] = await a.inbox.take("after");
        assert.deepStrictEqual(after, { n: 2 });
        assert.ok(a.connected && chat.connected && !disconnected);
      }),
    );

    it("/api/emit with 1e999 in its data reaches clients as null, and they stay connected", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        const a = await c.chatConnect(server.url);
        const polling = await c.chatConnect(server.url, { transports: ["polling"] });
        let drops = 0;
        for (const s of [a, polling]) s.on("disconnect", () => drops++);
        const res = await emit(server, '{"event":"huge","data":{"x":1e999,"y":[-1e999, 2],"z":"1e999"}}');
        assert.strictEqual(res.status, 200, res.body);
        for (const s of [a, polling]) {
          const [d] = await s.inbox.take("huge");
          assert.deepStrictEqual(d, { x: null, y: [null, 2], z: "1e999" });
        }
        const [pong] = await h.emitAck(a, "ping");
        assert.ok(pong.timestamp);
        assert.strictEqual(drops, 0);
      }),
    );

    it("bodies that are not JSON: 400 from /api/emit and the conversation endpoints", TEST_TIMEOUT, () =>
      c.withChat(ARGS, async (server) => {
        for (const body of ["{", "[1,2", "nul", '{"event":"x"} trailing', "\"just a string\""]) {
          const res = await emit(server, body);
          assert.strictEqual(res.status, 400, `${body}: ${res.status} ${res.body}`);
        }
        const bad = await c.httpJson(`${server.url}/api/conversations/c1/messages`, { method: "POST", body: "{oops" });
        assert.strictEqual(bad.status, 400);
        assert.deepStrictEqual(bad.json, { error: "Invalid JSON" });
        // A message whose content came with a non-finite number elsewhere in the body is stored, the number dropped.
        const ok = await c.httpJson(`${server.url}/api/conversations/c1/messages`, {
          method: "POST",
          body: '{"senderId":"u","content":"fine","type":"text","extra":1e999}',
        });
        assert.strictEqual(ok.status, 201, ok.body);
      }),
    );

    it("a symlink in --web-root to a file outside it is not served (404); files inside are", TEST_TIMEOUT, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-webroot-"));
      try {
        const root = path.join(dir, "web");
        fs.mkdirSync(root);
        fs.writeFileSync(path.join(root, "index.html"), "<html>page</html>");
        fs.writeFileSync(path.join(root, "inside.txt"), "inside");
        fs.writeFileSync(path.join(dir, "secret.txt"), "outside the web root");
        fs.symlinkSync(path.join(dir, "secret.txt"), path.join(root, "leak.txt"));
        fs.symlinkSync("../secret.txt", path.join(root, "relative-leak.txt"));
        fs.symlinkSync("/etc/passwd", path.join(root, "passwd"));
        fs.symlinkSync(path.join(root, "inside.txt"), path.join(root, "alias.txt"));
        await c.withChat([...ARGS, "--web-root", root], async (server) => {
          for (const name of ["leak.txt", "relative-leak.txt", "passwd"]) {
            const res = await h.request(`${server.url}/${name}`);
            assert.strictEqual(res.status, 404, `${name}: ${res.status} ${res.body}`);
            assert.doesNotMatch(res.body, /outside the web root|root:/);
          }
          const page = await h.request(`${server.url}/`);
          assert.strictEqual(page.status, 200);
          assert.strictEqual(page.body, "<html>page</html>");
          assert.strictEqual((await h.request(`${server.url}/inside.txt`)).body, "inside");
          const alias = await h.request(`${server.url}/alias.txt`); // a link that stays inside
          assert.strictEqual(alias.status, 200);
          assert.strictEqual(alias.body, "inside");
        });
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

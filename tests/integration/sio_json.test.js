// What the server re-emits is valid JSON for every client: a number JSON cannot carry
// (1e999 parses to an infinity) is sent on as null, as JSON.stringify does in Node's
// socket.io, instead of a bare `Infinity` that makes every socket.io-client drop with
// "parse error"; text JSON cannot carry (lone surrogates) is refused at decode.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };

if (!harness.isReference()) {
  describe("re-emitted JSON stays valid", () => {
    afterEach(() => h.cleanup());

    it("chat custom-event with 1e999: watchers get null and stay connected", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const watchers = await Promise.all([1, 2].map(() => c.chatConnect(server.url, { transports: ["websocket"] })));
        const polling = await c.chatConnect(server.url, { transports: ["polling"] });
        const raw = await h.rawSioWs(server.url);
        raw.send('42["custom-event",{"eventType":"metric","value":1e999,"list":[-1e999,2]}]');
        const got = await c.takeAll([...watchers, polling], "custom-event");
        for (const e of got) assert.deepStrictEqual(e.data, { eventType: "metric", value: null, list: [null, 2] });
        // Everyone is still connected and served.
        for (const s of [...watchers, polling]) assert.ok(s.connected);
        const [pong] = await h.emitAck(watchers[0], "ping");
        assert.ok(pong.timestamp);
      }),
    );

    it("echo: 1e999 comes back as null; a lone surrogate closes only its own connection", TEST_TIMEOUT, async () => {
      const server = await harness.start();
      try {
        const watcher = await h.connect(server.url, { transports: ["websocket"] });
        const raw = await h.rawSioWs(server.url);
        raw.send('42["message",1e999,{"a":1e999}]');
        let frame;
        while ((frame = await raw.next()) === "2" || frame.startsWith(`42["auth"`));
        assert.strictEqual(frame, '42["message-back",null,{"a":null}]');
        const bad = await h.rawSioWs(server.url);
        bad.send('42["message","\\ud800"]');
        await h.withTimeout(bad.closed, 3000, "the sender of a lone surrogate is disconnected");
        assert.ok(watcher.connected);
        const [echo] = await h.emitAck(watcher, "message-with-ack", "still here");
        assert.strictEqual(echo, "still here");
      } finally {
        await h.cleanup();
        await server.stop();
      }
    });
  });
}

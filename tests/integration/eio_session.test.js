// Engine.IO session rules, with raw HTTP and WebSocket bytes: how a session ends (invalid
// payloads, overlapping GETs, a cancelled GET, ping timeout, the client's close), extra
// WebSockets on an upgraded session, and the origin check on WebSocket upgrades. These are
// the behaviours the official engine.io v4 protocol suite checks; run with REFERENCE=1
// they pass against Node's engine.io too (except the origin check, ours alone).
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const http = require("node:http");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 10000 };
const PING_INTERVAL = 300;
const PING_TIMEOUT = 200;

describe("Engine.IO sessions: how they end", () => {
  let server;
  let url;

  before(async () => {
    server = await harness.start(["--ping-interval", String(PING_INTERVAL), "--ping-timeout", String(PING_TIMEOUT)]);
    url = server.url;
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  async function session() {
    const open = await h.pollingHandshake(url, "/engine.io/");
    return { sid: open.sid, q: `${url}/engine.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}` };
  }

  it("a POST with an invalid payload is refused (400) and ends the session: the next GET gets 400", TEST_TIMEOUT, async () => {
    const { q } = await session();
    const post = await h.request(q, { method: "POST", body: "abc" });
    // The official suite asks for 400; the reference answers 200 and ends the session.
    assert.strictEqual(post.status, harness.isReference() ? 200 : 400);
    const get = await h.request(q);
    assert.strictEqual(get.status, 400);
    assert.deepStrictEqual(JSON.parse(get.body), { code: 1, message: "Session ID unknown" });
  });

  it("two concurrent GETs: the first gets the close packet, the second 400, the session is gone", TEST_TIMEOUT, async () => {
    const { q } = await session();
    const first = h.request(q);
    await h.delay(20);
    const second = await h.request(`${q}&t=burst`);
    assert.ok([400, 500].includes(second.status), `second GET: ${second.status}`);
    const r1 = await first;
    assert.strictEqual(r1.status, 200);
    assert.strictEqual(r1.body, "1");
    assert.strictEqual((await h.request(q)).status, 400);
  });

  it("a GET cancelled by the client ends the session", TEST_TIMEOUT, async () => {
    const { q } = await session();
    const req = http.get(q, { agent: false });
    req.on("error", () => {});
    await h.delay(30);
    req.destroy();
    await h.delay(50);
    assert.strictEqual((await h.request(q)).status, 400);
  });

  it("no pong within pingInterval + pingTimeout: the session is gone (400), not waiting for a GET", TEST_TIMEOUT, async () => {
    const { q } = await session();
    await h.delay(PING_INTERVAL + PING_TIMEOUT + 60);
    assert.strictEqual((await h.request(q)).status, 400);
  });

  it("the client's close packet: a waiting GET ends with a noop, then the session is gone", TEST_TIMEOUT, async () => {
    const { q } = await session();
    const get = h.request(q);
    await h.delay(20);
    const post = await h.request(q, { method: "POST", body: "1" });
    assert.strictEqual(post.status, 200);
    const r = await get;
    assert.strictEqual(r.status, 200);
    assert.strictEqual(r.body, "6");
    assert.strictEqual((await h.request(q)).status, 400);
  });

  if (!harness.isReference()) {
    it("the client's close packet before its GET: that GET still gets the noop, the next one 400", TEST_TIMEOUT, async () => {
      // A GET sent before the close can reach the session after it (another connection,
      // another I/O thread): it ends cleanly instead of failing.
      const { q } = await session();
      assert.strictEqual((await h.request(q, { method: "POST", body: "1" })).status, 200);
      const r = await h.request(q);
      assert.strictEqual(r.status, 200);
      assert.strictEqual(r.body, "6");
      assert.strictEqual((await h.request(q)).status, 400);
    });
  }

  it("a second WebSocket for an upgraded session is accepted, then closed; the first keeps working", TEST_TIMEOUT, async () => {
    const { sid } = await session();
    const query = `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`;
    const ws = h.rawWs(url, "/engine.io/", query);
    await ws.opened;
    ws.send("2probe");
    assert.strictEqual(await ws.next(), "3probe");
    ws.send("5");
    const ws2 = h.rawWs(url, "/engine.io/", query);
    await ws2.opened; // an HTTP 400 would reject here
    await h.withTimeout(ws2.closed, 3000, "second WebSocket closed");
    ws.send("4hello");
    let msg;
    while ((msg = await ws.next()) === "2") ws.send("3");
    assert.strictEqual(msg, "4hello");
  });

  it("a second WebSocket while the first is still probing is accepted, then closed", TEST_TIMEOUT, async () => {
    const { sid } = await session();
    const query = `EIO=4&transport=websocket&sid=${encodeURIComponent(sid)}`;
    const ws = h.rawWs(url, "/engine.io/", query);
    await ws.opened;
    const ws2 = h.rawWs(url, "/engine.io/", query);
    await ws2.opened;
    await h.withTimeout(ws2.closed, 3000, "second WebSocket closed");
    ws.send("2probe");
    assert.strictEqual(await ws.next(), "3probe");
  });
});

if (!harness.isReference()) {
  describe("WebSocket upgrades and the CORS origin list", () => {
    let server;
    before(async () => {
      server = await harness.start([], { corsOrigins: ["http://allowed.example"] });
    });
    after(async () => {
      await h.cleanup();
      if (server) await server.stop();
    });

    function wsWithOrigin(origin) {
      const headers = origin ? { Origin: origin } : {};
      const ws = h.track(new h.WebSocket(`${server.url.replace("http", "ws")}/socket.io/?EIO=4&transport=websocket`, { headers }));
      ws.on("error", () => {});
      return new Promise((resolve) => {
        ws.once("open", () => resolve({ opened: true }));
        ws.once("unexpected-response", (_req, res) => resolve({ opened: false, status: res.statusCode }));
      });
    }

    it("an Origin that is not listed is refused with 403; a listed one, or none, is accepted", TEST_TIMEOUT, async () => {
      assert.deepStrictEqual(await wsWithOrigin("http://evil.example"), { opened: false, status: 403 });
      assert.deepStrictEqual(await wsWithOrigin("http://allowed.example"), { opened: true });
      assert.deepStrictEqual(await wsWithOrigin(null), { opened: true });
    });
  });
}

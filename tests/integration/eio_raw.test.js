// The raw Engine.IO echo at /engine.io/ (raw HTTP long-polling, raw WebSocket, the real
// engine.io-client with and without upgrade; text and binary), GET /health, and CORS
// preflight on the Socket.IO endpoint.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const { Socket: EioSocket } = require("engine.io-client");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 10000 };
const RS = "\x1e";

describe("raw Engine.IO echo, health and CORS", () => {
  let server;
  let url;
  let eio;

  before(async () => {
    server = await harness.start();
    url = server.url;
    eio = `${url}/engine.io/`;
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  /** GETs on a polling session until n packets were collected. */
  async function poll(q, n) {
    const packets = [];
    while (packets.length < n) {
      const res = await h.request(q);
      assert.strictEqual(res.status, 200, res.body);
      packets.push(...res.body.split(RS).filter((p) => p !== "2")); // drop pings, if any
    }
    return packets;
  }

  it("polling: handshake, text and binary echo, close", TEST_TIMEOUT, async () => {
    const open = await h.pollingHandshake(url, "/engine.io/");
    assert.deepStrictEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepStrictEqual(open.upgrades, ["websocket"]);
    const q = `${eio}?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;

    let post = await h.request(q, { method: "POST", body: "4hello" });
    assert.strictEqual(post.status, 200);
    assert.strictEqual(post.body, "ok");
    assert.deepStrictEqual(await poll(q, 1), ["4hello"]);

    // several packets per POST, binary as base64 ("b" prefix), unicode text
    post = await h.request(q, { method: "POST", body: `4one${RS}bAQID${RS}4ünï ✓${RS}4` });
    assert.strictEqual(post.status, 200);
    assert.deepStrictEqual(await poll(q, 4), ["4one", "bAQID", "4ünï ✓", "4"]);

    // The /socket.io/ endpoint does not know this sid: the two are separate.
    const other = await h.request(`${url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`);
    assert.strictEqual(other.status, 400);

    await h.request(q, { method: "POST", body: "1" });
    await h.delay(50);
    // A GET right after the client's close still ends cleanly (it may have been sent
    // before the close); then the session is gone.
    assert.strictEqual((await h.request(q)).body, "6");
    const gone = await h.request(q);
    assert.strictEqual(gone.status, 400);
    assert.deepStrictEqual(JSON.parse(gone.body), { code: 1, message: "Session ID unknown" });
  });

  it("polling: refusals like /socket.io/", TEST_TIMEOUT, async () => {
    const r1 = await h.request(`${eio}?EIO=4&transport=foo`);
    assert.strictEqual(r1.status, 400);
    assert.deepStrictEqual(JSON.parse(r1.body), { code: 0, message: "Transport unknown" });
    const r2 = await h.request(`${eio}?EIO=3&transport=polling`);
    assert.strictEqual(r2.status, 400);
    assert.deepStrictEqual(JSON.parse(r2.body), { code: 5, message: "Unsupported protocol version" });
  });

  it("websocket: open packet, text and binary echo", TEST_TIMEOUT, async () => {
    const ws = h.rawWs(url, "/engine.io/");
    await ws.opened;
    const open = h.parseOpen(await ws.next());
    assert.deepStrictEqual(open.upgrades, []);
    ws.send("4hello");
    assert.strictEqual(await ws.next(), "4hello");
    ws.send("4ünï ✓");
    assert.strictEqual(await ws.next(), "4ünï ✓");
    // binary message: a binary frame, echoed as a binary frame
    const bin = Buffer.from([0, 1, 2, 255]);
    ws.send(bin);
    const back = await ws.next();
    assert.ok(Buffer.isBuffer(back), "binary frame expected");
    assert.deepStrictEqual(back, bin);
    // an empty message
    ws.send("4");
    assert.strictEqual(await ws.next(), "4");
  });

  it("upgrade: a GET sent after the probe's noop, before the client saw 3probe, is answered with a noop at once", TEST_TIMEOUT, async () => {
    // engine.io-client polls again as soon as a GET returns; if the probe's noop came
    // back before "3probe", the next GET is in flight when the client pauses polling to
    // switch, and it waits for that GET. The server must not hold it (until a ping).
    const open = await h.pollingHandshake(url, "/engine.io/");
    const sid = encodeURIComponent(open.sid);
    const q = `${eio}?EIO=4&transport=polling&sid=${sid}`;
    const firstGet = h.request(q);
    const ws = h.rawWs(url, "/engine.io/", `EIO=4&transport=websocket&sid=${sid}`);
    await ws.opened;
    ws.send("2probe");
    assert.strictEqual(await ws.next(), "3probe");
    assert.strictEqual((await firstGet).body, "6");
    const started = Date.now();
    const secondGet = await h.request(q, { timeoutMs: 3000 });
    assert.strictEqual(secondGet.status, 200);
    assert.strictEqual(secondGet.body, "6");
    assert.ok(Date.now() - started < 2000, `the second GET took ${Date.now() - started} ms`);
    // The switch completes, and the WebSocket carries the echo.
    ws.send("5");
    ws.send("4after upgrade");
    assert.strictEqual(await ws.next(), "4after upgrade");
    ws.close();
  });

  for (const transports of [["websocket"], ["polling"], ["polling", "websocket"]]) {
    it(`engine.io-client (${transports.join("+")}): text and binary echo`, TEST_TIMEOUT, async () => {
      const socket = new EioSocket(url, { path: "/engine.io/", transports });
      h.track({ disconnect: () => socket.close() });
      await h.once(socket, "open", 5000);
      if (transports.length === 2 && socket.transport.name !== "websocket") {
        await h.once(socket, "upgrade", 5000);
      }
      assert.strictEqual(socket.transport.name, transports[transports.length - 1]);
      const got = [];
      socket.on("message", (m) => got.push(m));
      socket.send("text message");
      socket.send(Buffer.from([5, 6, 7]));
      socket.send("x".repeat(50000));
      await h.waitFor(() => got.length === 3, 5000, "3 echoes");
      assert.strictEqual(got[0], "text message");
      assert.deepStrictEqual(h.toBuffer(got[1]), Buffer.from([5, 6, 7]));
      assert.strictEqual(got[2], "x".repeat(50000));
      socket.close();
    });
  }

  it("GET /health answers 200 JSON {status, uptime, connections}", TEST_TIMEOUT, async () => {
    const res = await h.request(`${url}/health`);
    assert.strictEqual(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const body = JSON.parse(res.body);
    assert.deepStrictEqual(Object.keys(body).sort(), ["connections", "status", "uptime"]);
    assert.strictEqual(body.status, "ok");
    assert.strictEqual(typeof body.uptime, "number");
    assert.ok(body.uptime >= 0);
    assert.ok(Number.isInteger(body.connections) && body.connections >= 0);

    // connections counts open clients: wait for the earlier tests' clients to be gone,
    // then 3 clients -> 3, and back to 0 once they left.
    const connections = async () => JSON.parse((await h.request(`${url}/health`)).body).connections;
    async function waitConnections(n) {
      const deadline = Date.now() + 3000;
      let c;
      while ((c = await connections()) !== n && Date.now() < deadline) await h.delay(50);
      assert.strictEqual(c, n, "health connections");
    }
    await waitConnections(0);
    const sockets = await Promise.all([1, 2, 3].map(() => h.connect(url, { transports: ["websocket"] })));
    await waitConnections(3);
    sockets.forEach((s) => s.disconnect());
    await waitConnections(0);
    const afterwards = JSON.parse((await h.request(`${url}/health`)).body);
    assert.ok(afterwards.uptime >= body.uptime);
  });

  it("CORS: an OPTIONS preflight with Origin gets Access-Control-Allow-Origin", TEST_TIMEOUT, async () => {
    const origin = "http://example.com";
    for (const path of ["/socket.io/", "/engine.io/"]) {
      const res = await h.request(`${url}${path}?EIO=4&transport=polling`, {
        method: "OPTIONS",
        headers: {
          Origin: origin,
          "Access-Control-Request-Method": "POST",
          "Access-Control-Request-Headers": "content-type",
        },
      });
      assert.ok([200, 204].includes(res.status), `preflight status ${res.status}`);
      const allow = res.headers["access-control-allow-origin"];
      assert.ok(allow === "*" || allow === origin, `Access-Control-Allow-Origin: ${allow}`);
      assert.match(String(res.headers["access-control-allow-methods"]), /POST/);
    }
  });

  it("CORS: a polling handshake with Origin gets Access-Control-Allow-Origin", TEST_TIMEOUT, async () => {
    const origin = "http://example.com";
    const res = await h.request(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { Origin: origin } });
    assert.strictEqual(res.status, 200);
    const allow = res.headers["access-control-allow-origin"];
    assert.ok(allow === "*" || allow === origin, `Access-Control-Allow-Origin: ${allow}`);
  });
});

// Protocol handshake and refusals at /socket.io/, with raw HTTP and raw WebSocket:
// handshake body, error codes (400 JSON), raw polling session, overlapping GETs,
// invalid payloads, --max-http-buffer-size (413 / oversized WebSocket frame) and
// malformed Socket.IO packets — each time checking that other clients keep working.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 10000 };
const MAX_BUFFER = 1000;
const RS = "\x1e"; // Engine.IO v4 payload record separator

describe("protocol refusals and malformed input", () => {
  let server;
  let url;
  let sio; // base URL of the Socket.IO endpoint
  let witness; // a socket.io-client connected the whole time

  before(async () => {
    server = await harness.start([
      "--ping-interval", "25000",
      "--ping-timeout", "20000",
      "--max-http-buffer-size", String(MAX_BUFFER),
    ]);
    url = server.url;
    sio = `${url}/socket.io/`;
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  /** A fresh websocket socket.io-client (tracked, closed by cleanup). */
  async function newWitness() {
    witness = await h.connect(url, { transports: ["websocket"] });
    return witness;
  }

  /** The witness client (and a brand-new client) are still served. */
  async function assertOthersServed() {
    assert.ok(witness.connected, "witness client still connected");
    assert.deepStrictEqual(await h.emitAck(witness, "message-with-ack", "alive"), ["alive"]);
    const fresh = await h.connect(url, { transports: ["polling"] });
    assert.deepStrictEqual(await h.emitAck(fresh, "message-with-ack", "new"), ["new"]);
    fresh.disconnect();
  }

  function assertError(res, status, code, message) {
    assert.strictEqual(res.status, status, `status of ${res.body}`);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    assert.deepStrictEqual(JSON.parse(res.body), { code, message });
  }

  /** Polling session on /socket.io/ connected to namespace '/', with the auth event read. */
  async function pollingSession() {
    const open = await h.pollingHandshake(url);
    const q = `${sio}?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
    const post = await h.request(q, { method: "POST", body: "40" });
    assert.strictEqual(post.status, 200);
    assert.strictEqual(post.body, "ok");
    const packets = [];
    while (!packets.some((p) => p.startsWith('42["auth"'))) {
      const res = await h.request(q);
      assert.strictEqual(res.status, 200);
      packets.push(...res.body.split(RS));
    }
    return { sid: open.sid, q, packets };
  }

  it("the polling handshake body is `0{...}` with exactly the expected keys", TEST_TIMEOUT, async () => {
    const res = await h.request(`${sio}?EIO=4&transport=polling`);
    assert.strictEqual(res.status, 200);
    assert.ok(res.body.startsWith("0{"), `body: ${res.body}`);
    const open = JSON.parse(res.body.slice(1));
    assert.deepStrictEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.strictEqual(typeof open.sid, "string");
    assert.ok(open.sid.length > 0);
    assert.deepStrictEqual(open.upgrades, ["websocket"]);
    assert.strictEqual(open.pingInterval, 25000);
    assert.strictEqual(open.pingTimeout, 20000);
    assert.strictEqual(open.maxPayload, MAX_BUFFER);
    const other = await h.pollingHandshake(url);
    assert.notStrictEqual(other.sid, open.sid, "sids are unique");
  });

  it("the websocket handshake sends the same open packet (no upgrades)", TEST_TIMEOUT, async () => {
    const ws = h.rawWs(url);
    await ws.opened;
    const first = await ws.next();
    assert.ok(first.startsWith("0{"), first);
    const open = JSON.parse(first.slice(1));
    assert.deepStrictEqual(Object.keys(open).sort(), ["maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"]);
    assert.deepStrictEqual(open.upgrades, []);
    assert.strictEqual(open.maxPayload, MAX_BUFFER);
  });

  it("missing EIO -> 400 code 5 Unsupported protocol version", TEST_TIMEOUT, async () => {
    assertError(await h.request(`${sio}?transport=polling`), 400, 5, "Unsupported protocol version");
  });

  it("EIO=3 (and EIO=5) -> 400 code 5 Unsupported protocol version", TEST_TIMEOUT, async () => {
    assertError(await h.request(`${sio}?EIO=3&transport=polling`), 400, 5, "Unsupported protocol version");
    assertError(await h.request(`${sio}?EIO=5&transport=polling`), 400, 5, "Unsupported protocol version");
  });

  it("unknown or missing transport -> 400 code 0 Transport unknown", TEST_TIMEOUT, async () => {
    assertError(await h.request(`${sio}?EIO=4&transport=foo`), 400, 0, "Transport unknown");
    assertError(await h.request(`${sio}?EIO=4`), 400, 0, "Transport unknown");
    // the transport is checked before the protocol version
    assertError(await h.request(`${sio}?EIO=3&transport=foo`), 400, 0, "Transport unknown");
  });

  it("unknown sid -> 400 code 1 Session ID unknown (GET and POST)", TEST_TIMEOUT, async () => {
    assertError(await h.request(`${sio}?EIO=4&transport=polling&sid=nope`), 400, 1, "Session ID unknown");
    assertError(
      await h.request(`${sio}?EIO=4&transport=polling&sid=nope`, { method: "POST", body: "40" }),
      400, 1, "Session ID unknown",
    );
  });

  it("POST without sid -> 400 code 2 Bad handshake method", TEST_TIMEOUT, async () => {
    assertError(
      await h.request(`${sio}?EIO=4&transport=polling`, { method: "POST", body: "40" }),
      400, 2, "Bad handshake method",
    );
  });

  it("a websocket session's sid with transport=polling -> 400 code 3 Bad request", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url);
    const q = `${sio}?EIO=4&transport=polling&sid=${encodeURIComponent(ws.sid)}`;
    assertError(await h.request(q), 400, 3, "Bad request");
    assertError(await h.request(q, { method: "POST", body: "40" }), 400, 3, "Bad request");
    // the websocket session itself is not affected
    ws.send('42["message","still here"]');
    for (;;) {
      const msg = await ws.next();
      if (msg.startsWith('42["message-back"')) {
        assert.strictEqual(msg, '42["message-back","still here"]');
        break;
      }
    }
  });

  it("transport=websocket without an Upgrade -> 400 code 3 Bad request", TEST_TIMEOUT, async () => {
    assertError(await h.request(`${sio}?EIO=4&transport=websocket`), 400, 3, "Bad request");
  });

  it("a raw polling session: CONNECT, events, acks, several packets per POST, close", TEST_TIMEOUT, async () => {
    const { q, packets } = await pollingSession();
    const connectAck = packets.find((p) => p.startsWith("40"));
    assert.ok(connectAck, `no CONNECT ack in ${packets}`);
    const ack = JSON.parse(connectAck.slice(2));
    assert.deepStrictEqual(Object.keys(ack), ["sid"]);
    assert.ok(packets.includes('42["auth",{}]'), `${packets}`);

    const post = await h.request(q, {
      method: "POST",
      body: `42["message","a"]${RS}421["message-with-ack","b",{"c":1}]${RS}42["message",1,2]`,
    });
    assert.strictEqual(post.status, 200);
    assert.strictEqual(post.body, "ok");
    const got = [];
    while (got.length < 3) {
      const res = await h.request(q);
      assert.strictEqual(res.status, 200);
      got.push(...res.body.split(RS));
    }
    assert.deepStrictEqual(got, ['42["message-back","a"]', '431["b",{"c":1}]', '42["message-back",1,2]']);

    // a binary payload over polling: base64 ("b" prefix) attachments
    await h.request(q, {
      method: "POST",
      body: `451-["message",{"_placeholder":true,"num":0}]${RS}bAQID`,
    });
    const bin = [];
    while (bin.length < 2) {
      const res = await h.request(q);
      bin.push(...res.body.split(RS));
    }
    assert.deepStrictEqual(bin, ['451-["message-back",{"_placeholder":true,"num":0}]', "bAQID"]);

    // client close packet ends the session
    assert.strictEqual((await h.request(q, { method: "POST", body: "1" })).status, 200);
    // Ours: a GET right after the client's close still ends with a noop (it may have been
    // sent before the close); the reference answers it 400 at once.
    if (!harness.isReference()) assert.strictEqual((await h.request(q)).body, "6");
    await h.delay(50);
    assertError(await h.request(q), 400, 1, "Session ID unknown");
  });

  it("a second concurrent GET on one polling session closes the session", TEST_TIMEOUT, async () => {
    await newWitness();
    const { q } = await pollingSession();
    const first = h.request(q).then(
      (r) => r,
      (e) => ({ error: e.message }),
    );
    await h.delay(100); // the first GET is now pending on the server
    const second = await h.request(q);
    assert.strictEqual(second.status, 400, "overlapping GET refused");
    const firstRes = await first; // must not hang
    await h.delay(50);
    const later = await h.request(q);
    const pendingGotClose = firstRes.status === 200 && firstRes.body.split(RS).includes("1");
    const laterUnknown = later.status === 400 && JSON.parse(later.body).code === 1;
    assert.ok(
      pendingGotClose || laterUnknown,
      `session not closed: pending ${JSON.stringify(firstRes)}, later ${later.status} ${later.body}`,
    );
    // (the reference does both: pending GET gets "1", later requests get code 1)
    await assertOthersServed();
  });

  for (const [label, body] of [
    ["an unknown Engine.IO packet type", "abc"],
    ["an empty payload", ""],
    ["a valid packet followed by an unknown packet type", `42["message","ok"]${RS}ZZ`],
    ["a malformed Socket.IO packet", "42{}"],
  ]) {
    it(`an invalid POST payload (${label}) closes the session`, TEST_TIMEOUT, async () => {
      await newWitness();
      const { q } = await pollingSession();
      const pending = h.request(q).then(
        (r) => r,
        (e) => ({ error: e.message }),
      );
      await h.delay(50);
      // The reference answers this POST 200 "ok" and then closes the session.
      await h.request(q, { method: "POST", body }).catch(() => {});
      const pendingRes = await pending;
      if (pendingRes.status === 200) {
        assert.ok(pendingRes.body.split(RS).includes("1"), `pending GET got ${pendingRes.body}`);
      }
      await h.delay(50);
      assertError(await h.request(q), 400, 1, "Session ID unknown");
      await assertOthersServed();
    });
  }

  it(`a POST over --max-http-buffer-size (${MAX_BUFFER}) is refused with 413`, TEST_TIMEOUT, async () => {
    await newWitness();
    const { q } = await pollingSession();
    const big = `42["message","${"x".repeat(2 * MAX_BUFFER)}"]`;
    const res = await h.request(q, { method: "POST", body: big });
    assert.strictEqual(res.status, 413);
    await assertOthersServed();
  });

  it("a socket.io-client message over --max-http-buffer-size is not delivered", TEST_TIMEOUT, async () => {
    await newWitness();
    for (const transports of [["websocket"], ["polling"]]) {
      const socket = await h.connect(url, { transports });
      const back = h.noEvent(socket, "message-back", 500);
      socket.emit("message", "y".repeat(3 * MAX_BUFFER));
      assert.ok(await back, `oversized message echoed over ${transports[0]}`);
    }
    await assertOthersServed();
  });

  it("a WebSocket frame over --max-http-buffer-size closes that connection", TEST_TIMEOUT, async () => {
    await newWitness();
    const ws = await h.rawSioWs(url);
    ws.send(`42["message","${"z".repeat(2 * MAX_BUFFER)}"]`);
    await h.withTimeout(ws.closed, 3000, "server closing the oversized connection");
    await assertOthersServed();
  });

  // Malformed Socket.IO / Engine.IO packets over a raw WebSocket: the server closes
  // that connection and keeps serving the others.
  for (const packet of [
    "42{}", // EVENT payload not an array
    "4abc", // unknown Socket.IO packet type
    '42["disconnect"]', // reserved event name
    "42[]", // EVENT without a name
    '42["message",', // truncated JSON
    "49", // unknown Socket.IO packet type
    "zz", // unknown Engine.IO packet type
    '42/nope,["x"]', // EVENT for a namespace this client never joined
  ]) {
    it(`malformed packet ${JSON.stringify(packet)} over websocket closes the connection`, TEST_TIMEOUT, async () => {
      await newWitness();
      const ws = await h.rawSioWs(url);
      ws.send(packet);
      await h.withTimeout(ws.closed, 3000, `server closing after ${packet}`);
      await assertOthersServed();
    });
  }

  it("42[1] (numeric event name): chat-server closes the connection; the reference accepts it", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url);
    if (harness.isReference()) {
      // socket.io-parser 4.2.x allows a number as event name, so the reference does NOT
      // close the connection for it (the event has no handler and is ignored).
      ws.send("42[1]");
      ws.send('42["message","after"]');
      for (;;) {
        const msg = await ws.next();
        if (msg.startsWith('42["message-back"')) {
          assert.strictEqual(msg, '42["message-back","after"]');
          break;
        }
      }
      assert.strictEqual(ws.readyState, h.WebSocket.OPEN);
      return;
    }
    // chat-server treats a non-string event name as a parse error (a documented difference).
    await newWitness();
    ws.send("42[1]");
    await h.withTimeout(ws.closed, 3000, "server closing after 42[1]");
    await assertOthersServed();
  });

  it("an unknown path is not handled by Socket.IO (404)", TEST_TIMEOUT, async () => {
    const res = await h.request(`${url}/nowhere/?EIO=4&transport=polling`);
    assert.strictEqual(res.status, 404);
  });
});

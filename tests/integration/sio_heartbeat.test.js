// Heartbeat and connect timeout, with a server started with --ping-interval 300
// --ping-timeout 300 --connect-timeout 800: a raw WebSocket client that never answers
// pings is closed within ~1 s, one that answers stays open; real clients (websocket and
// polling) stay connected; an Engine.IO connection that never sends a Socket.IO CONNECT
// is closed after --connect-timeout.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const { sanitizer } = require("./ws_wire");

const PING_INTERVAL = 300;
// Under ThreadSanitizer a long-polling round trip (a poll answered, the next one sent)
// can take longer than 300 ms: a polling client would miss its pong's deadline.
const PING_TIMEOUT = sanitizer() === "tsan" ? 1000 : 300;
const LATE_MS = sanitizer() === "tsan" ? 1000 : 400; // timers firing late, the close's trip
const CONNECT_TIMEOUT = 800;
const TEST_TIMEOUT = { timeout: 10000 };

describe("heartbeat and connect timeout", () => {
  let server;
  let url;

  before(async () => {
    server = await harness.start([
      "--ping-interval", String(PING_INTERVAL),
      "--ping-timeout", String(PING_TIMEOUT),
      "--connect-timeout", String(CONNECT_TIMEOUT),
    ]);
    url = server.url;
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  it("the handshake announces the configured ping interval and timeout", TEST_TIMEOUT, async () => {
    const open = await h.pollingHandshake(url);
    assert.strictEqual(open.pingInterval, PING_INTERVAL);
    assert.strictEqual(open.pingTimeout, PING_TIMEOUT);
  });

  it("a raw websocket client that never answers pings is closed within ~1 s (~2 s under TSan)", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url, { answerPings: false });
    const t0 = Date.now();
    await h.withTimeout(ws.closed, 4000, "server closing the silent client");
    const elapsed = ws.closedAt - t0;
    assert.ok(ws.received.includes("2"), "the server sent a ping first");
    assert.ok(elapsed >= PING_INTERVAL - 100, `closed too early (${elapsed} ms)`);
    assert.ok(
      elapsed <= PING_INTERVAL + PING_TIMEOUT + LATE_MS,
      `closed after ${elapsed} ms, expected ~${PING_INTERVAL + PING_TIMEOUT} ms`,
    );
  });

  it("a raw websocket client that answers pings stays open and served", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url, { answerPings: true });
    await h.delay(1500);
    assert.strictEqual(ws.readyState, h.WebSocket.OPEN);
    const pings = ws.received.filter((m) => m === "2").length;
    assert.ok(pings >= 3, `only ${pings} pings in 1.5 s`);
    ws.send('42["message","alive"]');
    for (;;) {
      const msg = await ws.next();
      if (msg.startsWith('42["message-back"')) {
        assert.strictEqual(msg, '42["message-back","alive"]');
        break;
      }
    }
  });

  for (const transports of [["websocket"], ["polling"]]) {
    it(`a socket.io-client over ${transports[0]} stays connected across many pings`, TEST_TIMEOUT, async () => {
      const socket = await h.connect(url, { transports });
      let pings = 0;
      socket.io.on("ping", () => pings++);
      assert.ok(await h.noEvent(socket, "disconnect", 1500), "disconnected");
      assert.ok(pings >= 3, `only ${pings} pings in 1.5 s`);
      assert.deepStrictEqual(await h.emitAck(socket, "message-with-ack", "ok"), ["ok"]);
    });
  }

  it("a raw websocket client answering pings but never sending CONNECT is closed after --connect-timeout", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url, { answerPings: true, sendConnect: false });
    const t0 = Date.now();
    await h.withTimeout(ws.closed, 4000, "server closing the client without CONNECT");
    const elapsed = ws.closedAt - t0;
    assert.ok(elapsed >= CONNECT_TIMEOUT - 150, `closed too early (${elapsed} ms)`);
    assert.ok(elapsed <= CONNECT_TIMEOUT + 1000, `closed late (${elapsed} ms)`);
    assert.ok(!ws.received.some((m) => typeof m === "string" && m.startsWith("4")), "no Socket.IO packet expected");
  });

  it("a raw websocket client that sends CONNECT in time is kept", TEST_TIMEOUT, async () => {
    const ws = await h.rawSioWs(url, { answerPings: true, sendConnect: false });
    await h.delay(CONNECT_TIMEOUT / 2);
    ws.send("40");
    await h.delay(CONNECT_TIMEOUT + 500);
    assert.strictEqual(ws.readyState, h.WebSocket.OPEN);
    assert.ok(ws.received.some((m) => typeof m === "string" && m.startsWith("40{")), "CONNECT ack");
  });
});

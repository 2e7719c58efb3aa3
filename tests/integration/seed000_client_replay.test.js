// Seeds 000 and 002 name clients no Debian or npm package brings: Flutter's Dart
// `socket_io_client` 2.x, the Java `io.socket:socket.io-client` 2.x and the Swift
// `Socket.IO-Client-Swift` 16. Their handshakes and packets are replayed here byte for
// byte over raw HTTP and WebSocket (the URLs and query orders their sources build),
// with seed 000's events; a socket.io-client 4 watches what the app did.
// - Dart (seed 000's `setTransports(['websocket', 'polling'])`): straight to WebSocket,
//   `?EIO=4&transport=websocket`, CONNECT "40", answers the server's pings.
// - Java: polling `?EIO=4&transport=polling&t=<yeast>`, CONNECT by POST, the upgrade
//   (2probe, 3probe, 5) on `?EIO=4&transport=websocket&sid=...`.
// - Swift: polling `?transport=polling&b64=1&EIO=4` (query order and b64 its own), then
//   `?transport=websocket&sid=...&EIO=4`.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const SEP = "\x1e";

/** Reads ws messages until one matches pred (pings answered on the way); returns it. */
async function until(ws, pred, what) {
  for (let i = 0; i < 50; i++) {
    const msg = await ws.next();
    if (msg === "2") {
      ws.send("3");
      continue;
    }
    if (pred(msg)) return msg;
  }
  throw new Error(`no ${what} in 50 messages: ${ws.received.slice(-5).join(" | ")}`);
}

/** `42["event",...]` / `43N[...]` as [event-or-ack, args]. */
function eventOf(msg) {
  const m = /^4([23])(\d*)(\[.*)$/s.exec(msg);
  if (!m) return null;
  const arr = JSON.parse(m[3]);
  return m[1] === "2" ? { event: arr[0], args: arr.slice(1) } : { ack: Number(m[2]), args: arr };
}

/** The polling exchange of a client whose query is built by `query(sid)`. */
function polling(server, query) {
  const url = (sid) => `${server.url}/socket.io/?${query(sid)}`;
  return {
    async open() {
      const res = await h.request(url(null));
      assert.strictEqual(res.status, 200, res.body);
      this.sid = h.parseOpen(res.body).sid;
      return this.sid;
    },
    async post(body) {
      const res = await h.request(url(this.sid), {
        method: "POST",
        headers: { "Content-Type": "text/plain;charset=UTF-8", "Content-Length": Buffer.byteLength(body) },
        body,
      });
      assert.strictEqual(res.status, 200, res.body);
      assert.strictEqual(res.body, "ok");
    },
    async get() {
      const res = await h.request(url(this.sid));
      assert.strictEqual(res.status, 200, res.body);
      return res.body.split(SEP);
    },
  };
}

/** Polling to WebSocket as engine.io clients do it: 2probe, 3probe, the noop, 5. */
async function upgrade(server, poll, wsQuery) {
  const pending = poll.get(); // the GET the client keeps open while it probes
  const ws = h.rawWs(server.url, "/socket.io/", wsQuery(poll.sid));
  await ws.opened;
  ws.send("2probe");
  assert.strictEqual(await until(ws, (m) => m.startsWith("3"), "3probe"), "3probe");
  assert.deepStrictEqual(await pending, ["6"]);
  ws.send("5");
  return ws;
}

if (!harness.isReference()) {
  describe("seed 000/002 native clients, replayed", () => {
    afterEach(() => h.cleanup());

    it("Flutter socket_io_client 2.x (Dart): websocket first, identify, send-message, ping, heartbeat", TEST_TIMEOUT, () =>
      c.withChat(["--ping-interval", "300", "--ping-timeout", "2000"], async (server) => {
        const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
        const ws = h.rawWs(server.url, "/socket.io/", "EIO=4&transport=websocket");
        await ws.opened;
        const open = h.parseOpen(await ws.next());
        assert.deepStrictEqual(open.upgrades, []);
        ws.send("40");
        const connect = await until(ws, (m) => m.startsWith("40"), "CONNECT ack");
        const socketId = JSON.parse(connect.slice(2)).sid;
        const [joined] = await watcher.inbox.take("user-connected", h.DEFAULT_TIMEOUT_MS, (d) => d.socketId === socketId);
        assert.strictEqual(joined.socketId, socketId);

        ws.send('42["identify",{"userId":"flutter-1","platform":"flutter","appVersion":"1.0.0"}]');
        const identified = eventOf(await until(ws, (m) => m.startsWith('42["identified"'), "identified"));
        assert.strictEqual(identified.args[0].message, "Client identified successfully");
        ws.send('42["send-message",{"sender":"flutter-1","text":"from dart","platform":"flutter"}]');
        const [m] = await watcher.inbox.take("receive-message");
        assert.strictEqual(m.text, "from dart");
        assert.strictEqual(m.platform, "flutter");
        ws.send('42["ping"]');
        const pong = eventOf(await until(ws, (x) => x.startsWith('42["pong"'), "pong"));
        c.assertIso(pong.args[0].timestamp);
        // Several heartbeats pass with the client answering (until() answers each "2").
        await h.delay(1000);
        ws.send('423["ping"]');
        const ack = eventOf(await until(ws, (x) => x.startsWith("433"), "ping ack"));
        assert.strictEqual(ack.args[0].status, "ok");
        ws.send("41");
        const [left] = await watcher.inbox.take("user-disconnected", h.DEFAULT_TIMEOUT_MS, (d) => d.socketId === socketId);
        assert.strictEqual(left.platform, "flutter");
      }),
    );

    it("Java socket.io-client 2.x: polling with t=, CONNECT by POST, upgrade, send-batch with an ack", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
        const poll = polling(server, (sid) => `EIO=4&transport=polling&t=OqR2Fv3${sid ? `&sid=${sid}` : ""}`);
        await poll.open();
        await poll.post("40");
        const first = await poll.get();
        assert.match(first[0], /^40\{"sid":"[^"]+"\}$/);
        const ws = await upgrade(server, poll, (sid) => `EIO=4&transport=websocket&sid=${sid}`);
        ws.send('420["send-batch",{"messages":[{"sender":"android","text":"one"},{"sender":"android","text":"two"}]}]');
        const ack = eventOf(await until(ws, (m) => m.startsWith("430"), "send-batch ack"));
        assert.strictEqual(ack.args[0].status, "ok", JSON.stringify(ack));
        assert.strictEqual(ack.args[0].ids.length, 2);
        const texts = [(await watcher.inbox.take("receive-message"))[0].text, (await watcher.inbox.take("receive-message"))[0].text];
        assert.deepStrictEqual(texts, ["one", "two"]);
      }),
    );

    it("Swift Socket.IO-Client-Swift 16: b64 polling, its query order, upgrade, custom-event", TEST_TIMEOUT, () =>
      c.withChat([], async (server) => {
        const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
        const poll = polling(server, (sid) => `transport=polling&b64=1${sid ? `&sid=${sid}` : ""}&EIO=4`);
        await poll.open();
        await poll.post("40");
        const first = await poll.get();
        assert.match(first[0], /^40\{"sid":"[^"]+"\}$/);
        // Before the upgrade, an event over polling.
        await poll.post('42["custom-event",{"eventType":"ios.launch","data":{"build":42}}]');
        const [ev] = await watcher.inbox.take("custom-event");
        assert.deepStrictEqual(ev.data, { eventType: "ios.launch", data: { build: 42 } });
        // The client's own copy of the broadcast comes with its next GET.
        const echoed = (await poll.get()).map(eventOf);
        assert.ok(echoed.some((e) => e && e.event === "custom-event"), JSON.stringify(echoed));
        const ws = await upgrade(server, poll, (sid) => `transport=websocket&sid=${sid}&EIO=4`);
        ws.send('42["send-message",{"sender":"ios","text":"from swift","platform":"ios"}]');
        const [m] = await watcher.inbox.take("receive-message");
        assert.strictEqual(m.text, "from swift");
        ws.send('421["ping"]');
        const ack = eventOf(await until(ws, (x) => x.startsWith("431"), "ping ack"));
        assert.strictEqual(ack.args[0].status, "ok");
      }),
    );
  });
}

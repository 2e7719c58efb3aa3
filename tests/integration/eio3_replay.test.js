// Engine.IO v3 clients replayed byte for byte against the chat app (APP_PROTOCOL §6):
// ElephantIO Version2X (seed 000's Laravel backend: polling handshake, then a raw TCP
// WebSocket that sends "5" without a probe, with `Origin: *`, then "42[...]" events it
// never reads answers to) and socket.io-client 2.x's upgrade (2probe, 3probe, the noop
// that ends the pending GET, 5). A v4 socket.io-client watches what the app did.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const net = require("node:net");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const TEST_TIMEOUT = { timeout: 15000 };

/** A masked client text frame, as ElephantIO's Encoder writes it (RFC 6455 §5.2). */
function maskedTextFrame(text) {
  const payload = Buffer.from(text, "utf8");
  const mask = crypto.randomBytes(4);
  let header;
  if (payload.length < 126) header = Buffer.from([0x81, 0x80 | payload.length]);
  else if (payload.length < 65536) {
    header = Buffer.alloc(4);
    header[0] = 0x81;
    header[1] = 0x80 | 126;
    header.writeUInt16BE(payload.length, 2);
  } else throw new Error("frame too large for this test");
  const masked = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]));
  return Buffer.concat([header, mask, masked]);
}

/** Parses a v3 polling payload ("<len>:<packet>..."), lengths in characters. */
function v3Packets(body) {
  const out = [];
  let i = 0;
  while (i < body.length) {
    const colon = body.indexOf(":", i);
    const len = Number(body.slice(i, colon));
    out.push(body.slice(colon + 1, colon + 1 + len));
    i = colon + 1 + len;
  }
  return out;
}

/** ElephantIO Version2X's connect: polling handshake, then its hand-written upgrade. */
async function elephantConnect(server) {
  const hs = await h.request(`${server.url}/socket.io/?use_b64=0&EIO=3&transport=polling`);
  assert.strictEqual(hs.status, 200, hs.body);
  // ElephantIO takes the JSON between the first '{' and the last '}'.
  const open = JSON.parse(hs.body.slice(hs.body.indexOf("{"), hs.body.lastIndexOf("}") + 1));
  assert.ok(open.upgrades.includes("websocket"));
  const sock = net.connect(server.port, "127.0.0.1");
  h.track({ disconnect: () => sock.destroy() });
  await h.once(sock, "connect");
  const key = crypto.randomBytes(16).toString("base64");
  sock.write(
    `GET /socket.io/?sid=${encodeURIComponent(open.sid)}&EIO=3&transport=websocket HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${server.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: *\r\n\r\n`,
  );
  let head = "";
  const onData = (d) => (head += d.toString("latin1"));
  sock.on("data", onData);
  await h.waitFor(() => head.includes("\r\n\r\n"), 3000, "101 response");
  assert.ok(head.startsWith("HTTP/1.1 101"), head);
  sock.removeListener("data", onData); // ElephantIO never reads again
  sock.write(maskedTextFrame("5"));
  return { sock, sid: open.sid, emit: (event, args) => sock.write(maskedTextFrame(`42${JSON.stringify([event, args])}`)) };
}

if (!harness.isReference()) {
  describe("Engine.IO v3 clients, replayed byte for byte", () => {
    afterEach(() => h.cleanup());

    it("ElephantIO Version2X: upgrade without a probe, then identify and send-message reach the app", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "100"], async (server) => {
        const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
        const elephant = await elephantConnect(server);
        elephant.emit("identify", { userId: "laravel-app-1", platform: "laravel", appVersion: "1.0.0" });
        elephant.emit("send-message", { sender: "Laravel", text: "Backup done", platform: "laravel" });
        const [msg] = await c.takeAll([watcher], "receive-message");
        assert.deepStrictEqual({ sender: msg.sender, text: msg.text, platform: msg.platform }, {
          sender: "Laravel",
          text: "Backup done",
          platform: "laravel",
        });
        // Its close frame ("1") ends the session.
        elephant.sock.write(maskedTextFrame("1"));
        await h.once(elephant.sock, "close", 3000);
      }),
    );

    it("ElephantIO with a CORS origin list: its `Origin: *` is no browser's, the upgrade is taken", TEST_TIMEOUT, () =>
      c.withChat(
        [],
        async (server) => {
          const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
          const elephant = await elephantConnect(server);
          elephant.emit("send-message", { sender: "Laravel", text: "with origins", platform: "laravel" });
          const [msg] = await c.takeAll([watcher], "receive-message");
          assert.strictEqual(msg.text, "with origins");
        },
        { corsOrigins: ["https://app.example.com"] },
      ),
    );

    it("socket.io-client 2.x's upgrade bytes: 2probe, 3probe, the GET's noop, 5, then events both ways", TEST_TIMEOUT, () =>
      c.withChat(["--rate-limit", "100"], async (server) => {
        const watcher = await c.chatConnect(server.url, { transports: ["websocket"] });
        const base = `${server.url}/socket.io/?EIO=3&transport=polling`;
        const hs = await h.request(`${base}&t=N1a2b3c`);
        assert.strictEqual(hs.status, 200);
        const packets = v3Packets(hs.body);
        assert.strictEqual(packets[0][0], "0");
        assert.ok(packets.includes("40"), `the v2 server connects "/" by itself: ${hs.body}`);
        const sid = JSON.parse(packets[0].slice(1)).sid;
        const q = `${base}&sid=${encodeURIComponent(sid)}`;
        const pendingGet = h.request(`${q}&t=N1a2b3d`);
        const ws = h.rawWs(server.url, "/socket.io/", `EIO=3&transport=websocket&sid=${encodeURIComponent(sid)}`);
        await ws.opened;
        ws.send("2probe");
        assert.strictEqual(await ws.next(), "3probe");
        // The pending GET returns (with the app's packets, if any); the client polls until
        // it sees the noop that means "switch now".
        let get = await pendingGet;
        for (let i = 0; i < 3 && get.status === 200 && !v3Packets(get.body).includes("6"); i++)
          get = await h.request(`${q}&t=N1a2b3e${i}`);
        assert.strictEqual(get.status, 200);
        assert.ok(v3Packets(get.body).includes("6"), get.body);
        ws.send("5");
        ws.send('42["send-message",{"sender":"v2","text":"over v3","platform":"web"}]');
        const [msg] = await c.takeAll([watcher], "receive-message");
        assert.strictEqual(msg.text, "over v3");
        // The v2 client sees the broadcast too, as a v3 frame, and its pings are answered.
        let frame;
        while ((frame = await ws.next()) && !frame.startsWith('42["receive-message"'));
        assert.strictEqual(JSON.parse(frame.slice(2))[1].text, "over v3");
        ws.send("2");
        assert.strictEqual(await ws.next(), "3");
        // Polling is over for this session.
        assert.strictEqual((await h.request(q)).status, 400);
      }),
    );
  });
}

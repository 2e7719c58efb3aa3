// Compression: permessage-deflate on WebSocket (RFC 7692; settings `per-message-deflate`,
// `per-message-deflate-threshold`) and gzip / deflate of Engine.IO long-polling answers
// (`http-compression`, `http-compression-threshold`), against the echo fixture
// (docs/echo-fixture.md): its raw Engine.IO echo at /engine.io/ sends every message back,
// its `message` event answers `message-back` with the same args.
//
//   a) negotiation: the 101's Sec-WebSocket-Extensions, offered or not, setting on or off
//   b) socket.io-client 4 over WebSocket: big and small text and binary echoed intact, and
//      the frames it received, read off its TCP socket: RSV1 and a small payload for the big
//      ones, RSV1 clear for the small one
//   c) frames by hand over TCP: compressed messages (whole, fragmented, BFINAL-terminated)
//      understood; the thresholds and "only when smaller" of the server's frames; RSV1 where
//      it must not be (1002), data that does not inflate or inflates to bad UTF-8 (1007),
//      inflated size past max-http-buffer-size (1009, a deflate bomb), the server serving on
//   d) HTTP: Accept-Encoding and q-values, thresholds, Vary, POST never compressed,
//      `--http-compression false`, socket.io-client 4 over polling
//
// The Chromium check is compression_page.test.js.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const zlib = require("node:zlib");
const harness = require("./harness");
const h = require("./helpers");
const wire = require("./ws_wire");

const { OP, EIO_WS, SIO_WS, clientFrame, closePayload, rawUpgrade, splitFrames } = wire;
const T = { timeout: 20000 };
const RS = "\x1e";
const DEFLATE_ON = ["--per-message-deflate", "true"];
const SMALL_MAX = 100000; // --max-http-buffer-size of the hostile server
const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const SYNC = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
const ANSWER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

// -- data ---------------------------------------------------------------------------------

/** n characters of compressible ASCII text (deflate takes it to a fraction of its size). */
function bigText(n) {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `line ${i}: the quick brown fox jumps over the lazy dog. `;
  return s.slice(0, n);
}

/** n compressible bytes that are not text. */
function bigBytes(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
  return b;
}

/** RFC 7692 §7.2.1: raw deflate, sync flush, the trailing 00 00 ff ff removed. */
function deflate(data) {
  const out = zlib.deflateRawSync(Buffer.from(data), SYNC);
  assert.deepEqual(out.subarray(-4), TAIL, "a sync flush ends with 00 00 ff ff");
  return out.subarray(0, -4);
}

/** RFC 7692 §7.2.2, with a fresh inflater: so a message needs no earlier one's context. */
function inflate(payload) {
  return zlib.inflateRawSync(Buffer.concat([payload, TAIL]), SYNC);
}

// -- WebSocket over TCP, by hand (ws_wire.js) ---------------------------------------------

/** A TCP connection upgraded by hand on path; offer: the Sec-WebSocket-Extensions value sent (none when null). */
function upgrade(port, path, offer) {
  return rawUpgrade(port, path, { headers: offer == null ? {} : { "Sec-WebSocket-Extensions": offer } });
}

/** The extension answer parsed: [{name, params: sorted [name[=value]]}]. */
function parseExtensions(value) {
  if (value == null) return [];
  return value.split(",").map((ext) => {
    const [name, ...params] = ext.split(";").map((s) => s.trim().toLowerCase());
    return { name, params: params.filter(Boolean).map((p) => p.replace(/\s*=\s*/, "=")).sort() };
  });
}

function assertDeflateAnswer(value) {
  assert.deepEqual(parseExtensions(value), parseExtensions(ANSWER), `Sec-WebSocket-Extensions: ${value}`);
}

/**
 * The next data message {op, rsv1 (of its first frame), wire (payload bytes on the wire),
 * frames, data (inflated when rsv1)}; control frames met on the way go to c.control.
 */
async function nextMessage(c, timeoutMs = 5000) {
  const parts = [];
  let first = null;
  for (;;) {
    const f = await c.frames.next(timeoutMs);
    assert.ok(f, "a message, not the end of the connection");
    assert.equal(f.masked, false, "a server frame is not masked");
    assert.equal(f.rsv2 || f.rsv3, false, "RSV2 and RSV3 clear");
    if (f.op >= 0x8) {
      assert.notEqual(f.op, OP.close, `a message, not close ${wire.codeOf(f)}`);
      assert.equal(f.rsv1, false, "a control frame never has RSV1");
      (c.control ||= []).push(f);
      continue;
    }
    if (first) {
      assert.equal(f.op, OP.continuation, "a continuation");
      assert.equal(f.rsv1, false, "RSV1 only on a message's first frame");
    } else {
      assert.notEqual(f.op, OP.continuation, "a message starts with text or binary");
      first = f;
    }
    parts.push(f.payload);
    if (f.fin) break;
  }
  const payload = Buffer.concat(parts);
  return {
    op: first.op,
    rsv1: first.rsv1,
    wire: payload.length,
    frames: parts.length,
    data: first.rsv1 ? inflate(payload) : payload,
  };
}

/** The server's close frame's code (data frames on the way are collected); then the end. */
async function expectClose(c, code) {
  const seen = [];
  let f;
  while ((f = await c.frames.next(5000)) && f.op !== OP.close) {
    if (f.op < 0x8) seen.push(f.payload.toString());
  }
  assert.ok(f, `a close frame (${code}) before the connection ended`);
  assert.equal(wire.codeOf(f), code, `close code, after ${JSON.stringify(seen).slice(0, 200)}`);
  assert.deepEqual(seen, [], "nothing echoed");
  assert.equal(await c.frames.next(5000), null, "the connection ends");
}

/** Raw Engine.IO echo over TCP, deflate offered (as Chromium offers it); its OPEN read. */
async function openEcho(port, offer = "permessage-deflate; client_max_window_bits") {
  const c = await upgrade(port, EIO_WS, offer);
  assertDeflateAnswer(c.headers["sec-websocket-extensions"]);
  const open = await nextMessage(c);
  assert.equal(open.op, OP.text);
  assert.match(open.data.toString(), /^0\{/, "an Engine.IO OPEN");
  return c;
}

/** A Socket.IO connection on / over TCP (deflate offered), CONNECT done, `auth` event read. */
async function openSio(port, { compressedConnect = false } = {}) {
  const c = await upgrade(port, SIO_WS, "permessage-deflate; client_max_window_bits");
  assertDeflateAnswer(c.headers["sec-websocket-extensions"]);
  assert.match((await nextMessage(c)).data.toString(), /^0\{/);
  c.socket.write(compressedConnect ? clientFrame(OP.text, deflate("40"), { rsv1: true }) : clientFrame(OP.text, "40"));
  assert.match((await nextMessage(c)).data.toString(), /^40\{"sid":/);
  assert.equal((await nextMessage(c)).data.toString(), '42["auth",{}]');
  return c;
}

/** A Socket.IO event packet, as the client sends it. */
const event = (...args) => `42${JSON.stringify(args)}`;

if (!harness.isReference()) {
  // The reference fixture (reference-echo.js) takes none of these settings.

  describe("permessage-deflate: negotiation", () => {
    let on;
    let off;
    before(async () => {
      on = await harness.start(DEFLATE_ON);
      off = await harness.start([]);
    });
    after(async () => {
      await h.cleanup();
      wire.destroyAll();
      if (on) await on.stop();
      if (off) await off.stop();
    });
    afterEach(async () => {
      await h.cleanup();
      wire.destroyAll();
    });

    /** A `ws` client (offering deflate unless told not to): its 101 header and extensions. */
    async function wsClient(server, path, opts = {}) {
      const ws = h.track(new h.WebSocket(`ws://127.0.0.1:${server.port}${path}`, opts));
      ws.on("error", () => {});
      let answer;
      ws.once("upgrade", (res) => {
        answer = res.headers["sec-websocket-extensions"];
      });
      const firstMessage = h.withTimeout(
        new Promise((resolve) => ws.once("message", (d) => resolve(d.toString()))),
        3000,
        "the OPEN packet",
      );
      await h.withTimeout(
        new Promise((resolve, reject) => {
          ws.once("open", resolve);
          ws.once("error", reject);
          ws.once("unexpected-response", (_q, res) => reject(new Error(`HTTP ${res.statusCode}`)));
        }),
        3000,
        "ws open",
      );
      const first = await firstMessage;
      assert.match(first, /^0\{/, "the session works");
      return { ws, answer };
    }

    it("deflate on, offered by a ws client: the answer of the spec, on both endpoints", T, async () => {
      for (const path of [SIO_WS, EIO_WS]) {
        const { ws, answer } = await wsClient(on, path);
        assertDeflateAnswer(answer);
        assert.equal(ws.extensions, "permessage-deflate", `${path}: ws accepted the extension`);
        ws.close();
      }
    });

    it("deflate on: Chromium's offer, and an offer listing another extension first", T, async () => {
      for (const offer of [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate",
        "x-webkit-deflate-frame, permessage-deflate; client_max_window_bits",
      ]) {
        const c = await upgrade(on.port, EIO_WS, offer);
        assertDeflateAnswer(c.headers["sec-websocket-extensions"]);
        c.socket.destroy();
      }
    });

    it("deflate on, not offered (or only an unknown extension offered): no extension", T, async () => {
      const { ws, answer } = await wsClient(on, SIO_WS, { perMessageDeflate: false });
      assert.equal(answer, undefined);
      assert.equal(ws.extensions, "");
      for (const offer of [null, "x-unknown-extension"]) {
        const c = await upgrade(on.port, EIO_WS, offer);
        assert.equal(c.headers["sec-websocket-extensions"], undefined, `offer ${offer}`);
        c.socket.destroy();
      }
    });

    it("deflate off (the default, and `false`): no extension even when offered; RSV1 then is 1002", T, async () => {
      const { ws, answer } = await wsClient(off, SIO_WS);
      assert.equal(answer, undefined);
      assert.equal(ws.extensions, "");
      const explicitOff = await harness.start(["--per-message-deflate", "false"]);
      try {
        const c = await upgrade(explicitOff.port, EIO_WS, "permessage-deflate; client_max_window_bits");
        assert.equal(c.headers["sec-websocket-extensions"], undefined);
        c.socket.destroy();
      } finally {
        await explicitOff.stop();
      }
      const c = await upgrade(off.port, EIO_WS, "permessage-deflate; client_max_window_bits");
      assert.equal(c.headers["sec-websocket-extensions"], undefined);
      await nextMessage(c); // OPEN
      c.socket.write(clientFrame(OP.text, deflate("4offered but refused"), { rsv1: true }));
      await expectClose(c, 1002);
    });
  });

  describe("permessage-deflate: socket.io-client 4 over WebSocket", () => {
    let server;
    before(async () => {
      server = await harness.start(DEFLATE_ON);
    });
    after(async () => {
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => h.cleanup());

    it("big and small text and binary come back intact; the big ones compressed on the wire", T, async () => {
      const socket = h.client(server.url, { transports: ["websocket"] });
      const auth = h.once(socket, "auth");
      await h.connected(socket);
      await auth; // nothing more is in flight: the tap below starts at a frame boundary
      const ws = socket.io.engine.transport.ws;
      assert.equal(ws.extensions, "permessage-deflate", "socket.io-client negotiated permessage-deflate");

      // Every byte the server sends from here on, read off the client's TCP socket.
      const tcp = ws._socket;
      assert.ok(tcp && typeof tcp.on === "function", "the client's TCP socket");
      let tapped = Buffer.alloc(0);
      tcp.on("data", (d) => (tapped = Buffer.concat([tapped, d])));

      const big = bigText(50000);
      const bin = bigBytes(50000);
      let back = h.once(socket, "message-back", 5000);
      socket.emit("message", big);
      assert.deepEqual(await back, [big]);
      back = h.once(socket, "message-back", 5000);
      socket.emit("message", bin);
      const [binBack] = await back;
      assert.ok(h.isBinary(binBack), "binary comes back as binary");
      assert.deepEqual(h.toBuffer(binBack), bin);
      back = h.once(socket, "message-back", 5000);
      socket.emit("message", "hi", 42);
      assert.deepEqual(await back, ["hi", 42]);
      const [acked] = await h.emitAck(socket, "message-with-ack", big);
      assert.equal(acked, big);

      // What was on the wire: each message (single frames or fragments) with its RSV1.
      const { frames, rest } = splitFrames(tapped);
      assert.equal(rest.length, 0, "the tap ends at a frame boundary");
      const msgs = [];
      for (const f of frames) {
        assert.equal(f.masked, false);
        if (f.op >= 0x8) continue;
        if (f.op !== OP.continuation) msgs.push({ op: f.op, rsv1: f.rsv1, parts: [f.payload] });
        else msgs[msgs.length - 1].parts.push(f.payload);
      }
      const decoded = msgs.map((m) => {
        const payload = Buffer.concat(m.parts);
        return { ...m, wire: payload.length, data: m.rsv1 ? inflate(payload) : payload };
      });
      const bigEcho = decoded.find((m) => m.op === OP.text && m.data.toString() === event("message-back", big));
      assert.ok(bigEcho, "the big echo is on the wire");
      assert.equal(bigEcho.rsv1, true, "the big text echo is compressed (RSV1)");
      assert.ok(bigEcho.wire < big.length / 4, `compressed to ${bigEcho.wire} bytes from ${big.length}`);
      const binEcho = decoded.find((m) => m.op === OP.binary && m.data.equals(bin));
      assert.ok(binEcho, "the binary attachment is on the wire");
      assert.equal(binEcho.rsv1, true, "the big binary attachment is compressed (RSV1)");
      assert.ok(binEcho.wire < bin.length / 4, `compressed to ${binEcho.wire} bytes from ${bin.length}`);
      const smallEcho = decoded.find((m) => m.op === OP.text && m.data.toString() === event("message-back", "hi", 42));
      assert.ok(smallEcho, "the small echo is on the wire");
      assert.equal(smallEcho.rsv1, false, "the small echo is not compressed");
      const ackEcho = decoded.find((m) => m.op === OP.text && m.data.toString().endsWith(JSON.stringify([big])));
      assert.ok(ackEcho && ackEcho.rsv1, "the big ack is compressed too");
    });
  });

  describe("permessage-deflate: frames by hand", () => {
    let server;
    before(async () => {
      server = await harness.start([...DEFLATE_ON, "--max-http-buffer-size", String(SMALL_MAX)]);
    });
    after(async () => {
      await h.cleanup();
      wire.destroyAll();
      if (server) await server.stop();
    });
    afterEach(async () => {
      await h.cleanup();
      wire.destroyAll();
    });

    it("a compressed text and a compressed binary message are understood and echoed", T, async () => {
      const c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.text, deflate("4hello, compressed ✓"), { rsv1: true }));
      let m = await nextMessage(c);
      assert.equal(m.op, OP.text);
      assert.equal(m.rsv1, false, "a small answer goes plain");
      assert.equal(m.data.toString(), "4hello, compressed ✓");
      const bin = bigBytes(50000);
      c.socket.write(clientFrame(OP.binary, deflate(bin), { rsv1: true }));
      m = await nextMessage(c);
      assert.equal(m.op, OP.binary);
      assert.equal(m.rsv1, true, "a big compressible answer goes compressed");
      assert.deepEqual(m.data, bin);
      assert.ok(m.wire < bin.length / 4);
    });

    it("messages compressed one by one, no context between them, both ways", T, async () => {
      const c = await openEcho(server.port);
      const texts = [bigText(20000), bigText(25000).toUpperCase(), bigText(30000)].map((t) => `4${t}`);
      for (const t of texts) c.socket.write(clientFrame(OP.text, deflate(t), { rsv1: true }));
      for (const t of texts) {
        const m = await nextMessage(c); // inflated with a fresh inflater: server_no_context_takeover
        assert.equal(m.rsv1, true);
        assert.equal(m.data.toString(), t);
      }
    });

    it("a message ended by a final (BFINAL) block, not a sync flush, is understood (RFC 7692 §7.2.3.3)", T, async () => {
      const c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.text, zlib.deflateRawSync(Buffer.from("4finished with BFINAL")), { rsv1: true }));
      assert.equal((await nextMessage(c)).data.toString(), "4finished with BFINAL");
    });

    it("a compressed Socket.IO CONNECT and event get the fixture's answers", T, async () => {
      const c = await openSio(server.port, { compressedConnect: true });
      c.socket.write(clientFrame(OP.text, deflate(event("message", "zipped", { n: 1 })), { rsv1: true }));
      const m = await nextMessage(c);
      assert.equal(m.data.toString(), event("message-back", "zipped", { n: 1 }));
      const big = bigText(40000);
      c.socket.write(clientFrame(OP.text, deflate(event("message", big)), { rsv1: true }));
      const m2 = await nextMessage(c);
      assert.equal(m2.rsv1, true);
      assert.equal(m2.data.toString(), event("message-back", big));
    });

    it("a fragmented compressed message (RSV1 on the first frame only) is inflated as a whole", T, async () => {
      const c = await openEcho(server.port);
      const text = `4${bigText(30000)}`;
      const z = deflate(text);
      const cut = [Math.floor(z.length / 3), Math.floor((2 * z.length) / 3)];
      c.socket.write(clientFrame(OP.text, z.subarray(0, cut[0]), { fin: false, rsv1: true }));
      c.socket.write(clientFrame(OP.continuation, z.subarray(cut[0], cut[1]), { fin: false }));
      c.socket.write(clientFrame(OP.ping, "between fragments"));
      c.socket.write(clientFrame(OP.continuation, z.subarray(cut[1])));
      const m = await nextMessage(c);
      assert.equal(m.data.toString(), text);
      assert.ok(
        (c.control || []).some((f) => f.op === OP.pong && f.payload.toString() === "between fragments"),
        "the ping between the fragments was answered",
      );
      // The empty compressed message: a final fragment of nothing but the empty block.
      const bin = bigBytes(3000);
      const zb = deflate(bin);
      c.socket.write(clientFrame(OP.binary, zb.subarray(0, 10), { fin: false, rsv1: true }));
      c.socket.write(clientFrame(OP.continuation, zb.subarray(10), { fin: false }));
      c.socket.write(clientFrame(OP.continuation, Buffer.alloc(0)));
      assert.deepEqual((await nextMessage(c)).data, bin);
    });

    it("the server compresses from the threshold (1024 bytes of payload) on, not below", T, async () => {
      const c = await openEcho(server.port);
      const cases = [
        [OP.binary, Buffer.alloc(1024, 0x61), true],
        [OP.binary, Buffer.alloc(1023, 0x61), false],
        [OP.text, Buffer.from(`4${"a".repeat(1023)}`), true],
        [OP.text, Buffer.from(`4${"a".repeat(1022)}`), false],
      ];
      for (const [op, payload, compressed] of cases) {
        c.socket.write(clientFrame(op, payload));
        const m = await nextMessage(c);
        assert.equal(m.op, op);
        assert.equal(m.rsv1, compressed, `${payload.length} bytes: compressed ${compressed}`);
        assert.deepEqual(m.data, payload);
        if (compressed) assert.ok(m.wire < 100, `${payload.length} bytes of 'a' go in ${m.wire}`);
      }
    });

    it("a big message that deflate would not shrink (random bytes) goes plain", T, async () => {
      const c = await openEcho(server.port);
      const noise = crypto.randomBytes(8192);
      c.socket.write(clientFrame(OP.binary, noise));
      const m = await nextMessage(c);
      assert.equal(m.rsv1, false, "not compressed: it would not be smaller");
      assert.deepEqual(m.data, noise);
      // and the session goes on compressing what does shrink
      const text = `4${bigText(5000)}`;
      c.socket.write(clientFrame(OP.text, text));
      const m2 = await nextMessage(c);
      assert.equal(m2.rsv1, true);
      assert.equal(m2.data.toString(), text);
    });

    it("a message inflating to exactly max-http-buffer-size is accepted", T, async () => {
      const c = await openEcho(server.port);
      const bin = Buffer.alloc(SMALL_MAX, 0x42);
      c.socket.write(clientFrame(OP.binary, deflate(bin), { rsv1: true }));
      const m = await nextMessage(c);
      assert.deepEqual(m.data, bin);
    });

    it("RSV1 from a client that did not offer the extension: 1002", T, async () => {
      const c = await upgrade(server.port, EIO_WS, null);
      assert.equal(c.headers["sec-websocket-extensions"], undefined);
      await nextMessage(c); // OPEN
      c.socket.write(clientFrame(OP.text, deflate("4not negotiated"), { rsv1: true }));
      await expectClose(c, 1002);
    });

    it("RSV1 on a continuation frame: 1002 (plain first frame, and compressed first frame)", T, async () => {
      let c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.text, "4ab", { fin: false }));
      c.socket.write(clientFrame(OP.continuation, deflate("cd"), { rsv1: true }));
      await expectClose(c, 1002);
      c = await openEcho(server.port);
      const z = deflate(`4${bigText(3000)}`);
      c.socket.write(clientFrame(OP.text, z.subarray(0, 20), { fin: false, rsv1: true }));
      c.socket.write(clientFrame(OP.continuation, z.subarray(20), { rsv1: true }));
      await expectClose(c, 1002);
    });

    it("RSV1 on a control frame (ping, pong, close): 1002", T, async () => {
      for (const f of [
        clientFrame(OP.ping, "p", { rsv1: true }),
        clientFrame(OP.pong, "p", { rsv1: true }),
        clientFrame(OP.close, closePayload(1000), { rsv1: true }),
      ]) {
        const c = await openEcho(server.port);
        c.socket.write(f);
        await expectClose(c, 1002);
      }
    });

    it("compressed data that does not inflate: 1007", T, async () => {
      for (const bad of [
        Buffer.from([0xff, 0xff, 0xff, 0xff]), // a block of the reserved type 3
        Buffer.concat([deflate("4fine so far"), Buffer.from([0xff, 0xee, 0xdd, 0xcc, 0xbb])]),
      ]) {
        const c = await openEcho(server.port);
        c.socket.write(clientFrame(OP.text, bad, { rsv1: true }));
        await expectClose(c, 1007);
      }
    });

    it("a compressed text message that inflates to invalid UTF-8: 1007", T, async () => {
      const c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.text, deflate(Buffer.from([0x34, 0x61, 0xc0, 0xaf, 0x62])), { rsv1: true }));
      await expectClose(c, 1007);
    });

    it("a deflate bomb (2 MB of zeros in ~2 KB) and its fragmented form: 1009; the server serves on", T, async () => {
      const bomb = deflate(Buffer.alloc(2000000));
      assert.ok(bomb.length < 4000, `${bomb.length} bytes on the wire`);
      let c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.binary, bomb, { rsv1: true }));
      await expectClose(c, 1009);
      c = await openEcho(server.port);
      const just = deflate(Buffer.alloc(SMALL_MAX + 1, 0x42));
      c.socket.write(clientFrame(OP.binary, just, { rsv1: true }));
      await expectClose(c, 1009);
      c = await openEcho(server.port);
      const step = Math.ceil(bomb.length / 4);
      for (let i = 0; i < bomb.length; i += step) {
        const last = i + step >= bomb.length;
        c.socket.write(clientFrame(i === 0 ? OP.binary : OP.continuation, bomb.subarray(i, i + step), { fin: last, rsv1: i === 0 }));
      }
      await expectClose(c, 1009);

      // Another client, raw and socket.io-client, is served afterwards.
      c = await openEcho(server.port);
      c.socket.write(clientFrame(OP.text, deflate("4still here"), { rsv1: true }));
      assert.equal((await nextMessage(c)).data.toString(), "4still here");
      const socket = await h.connect(server.url, { transports: ["websocket"] });
      const big = bigText(60000); // under max-http-buffer-size once framed
      const back = h.once(socket, "message-back", 5000);
      socket.emit("message", big);
      assert.deepEqual(await back, [big]);
    });
  });

  describe("HTTP compression of long-polling answers", () => {
    let server; // defaults: http-compression true, threshold 1024
    before(async () => {
      server = await harness.start([]);
    });
    after(async () => {
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => h.cleanup());

    /** A raw Engine.IO polling session on the /engine.io/ echo; its query URL. */
    async function echoSession(s = server) {
      const open = await h.pollingHandshake(s.url, "/engine.io/");
      return `${s.url}/engine.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
    }

    /** POSTs packet on the echo session q, then GETs it back with Accept-Encoding ae. */
    async function echoBack(q, packet, ae) {
      const post = await h.request(q, { method: "POST", body: packet, headers: { "Content-Type": "text/plain;charset=UTF-8" } });
      assert.equal(post.status, 200);
      assert.equal(post.body, "ok");
      return h.request(q, { headers: ae === undefined ? {} : { "Accept-Encoding": ae }, timeoutMs: 5000 });
    }

    /** The body a client reads, after the Content-Encoding the answer names. */
    function decoded(res) {
      const enc = res.headers["content-encoding"];
      if (res.headers["content-length"] !== undefined) {
        assert.equal(Number(res.headers["content-length"]), res.raw.length, "Content-Length is the bytes sent");
      }
      if (enc === undefined) return res.raw.toString("utf8");
      if (enc === "gzip") {
        assert.deepEqual(res.raw.subarray(0, 2), Buffer.from([0x1f, 0x8b]), "gzip's magic");
        return zlib.gunzipSync(res.raw).toString("utf8");
      }
      if (enc === "deflate") {
        assert.equal(res.raw[0] & 0x0f, 8, "a zlib header (deflate method)");
        assert.equal(res.raw.readUInt16BE(0) % 31, 0, "a zlib header (check bits)");
        return zlib.inflateSync(res.raw).toString("utf8");
      }
      throw new Error(`unexpected Content-Encoding ${enc}`);
    }

    function assertVary(res) {
      assert.match(String(res.headers.vary || ""), /(^|,)\s*accept-encoding\s*(,|$)/i, `Vary: ${res.headers.vary}`);
    }

    const BIG = `4${bigText(5000)}`;

    for (const [ae, expected] of [
      ["gzip", "gzip"],
      ["deflate", "deflate"],
      ["gzip, deflate", "gzip"],
      ["deflate, gzip", "gzip"],
      ["gzip, deflate, br, zstd", "gzip"],
      ["gzip;q=0, deflate", "deflate"],
      ["gzip;q=0.5, deflate;q=0.9", "deflate"],
      ["deflate;q=0.5, gzip;q=0.8", "gzip"],
      ["br, deflate;q=0.1", "deflate"],
      [undefined, undefined],
      ["identity", undefined],
      ["br", undefined],
      ["gzip;q=0", undefined],
      ["gzip;q=0, deflate;q=0", undefined],
    ]) {
      it(`a 5 KB answer, Accept-Encoding ${ae === undefined ? "absent" : `"${ae}"`}: ${expected || "plain"}`, T, async () => {
        const q = await echoSession();
        const res = await echoBack(q, BIG, ae);
        assert.equal(res.status, 200);
        assert.equal(res.headers["content-encoding"], expected);
        assert.equal(decoded(res), BIG, "the exact Engine.IO payload");
        if (expected) assert.ok(res.raw.length < BIG.length / 3, `${res.raw.length} bytes for ${BIG.length}`);
        assertVary(res);
      });
    }

    it("the threshold (1024 bytes of body): 1024 compressed, 1023 and the handshake plain", T, async () => {
      const hs = await h.request(`${server.url}/socket.io/?EIO=4&transport=polling`, { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(hs.status, 200);
      assert.ok(hs.raw.length < 1024, `the handshake is ${hs.raw.length} bytes`);
      assert.equal(hs.headers["content-encoding"], undefined);
      assert.match(hs.body, /^0\{"sid":/);
      const q = await echoSession();
      for (const [len, enc] of [[1024, "gzip"], [1023, undefined], [2, undefined]]) {
        const packet = `4${"x".repeat(len - 1)}`;
        const res = await echoBack(q, packet, "gzip");
        assert.equal(res.headers["content-encoding"], enc, `${len} bytes`);
        assert.equal(decoded(res), packet);
        assertVary(res);
      }
    });

    it("a POST's answer is never compressed", T, async () => {
      const q = await echoSession();
      const post = await h.request(q, { method: "POST", body: BIG, headers: { "Accept-Encoding": "gzip, deflate" } });
      assert.equal(post.status, 200);
      assert.equal(post.headers["content-encoding"], undefined);
      assert.equal(post.body, "ok");
      const res = await h.request(q, { headers: { "Accept-Encoding": "gzip" } });
      assert.equal(decoded(res), BIG);
    });

    it("Socket.IO over raw polling: several packets in one gzipped body, exact", T, async () => {
      const open = await h.pollingHandshake(server.url);
      const q = `${server.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(open.sid)}`;
      assert.equal((await h.request(q, { method: "POST", body: "40" })).body, "ok");
      const seen = [];
      const deadline = Date.now() + 5000;
      while (!seen.includes('42["auth",{}]') && Date.now() < deadline) {
        const res = await h.request(q, { headers: { "Accept-Encoding": "gzip" } });
        seen.push(...decoded(res).split(RS));
      }
      assert.match(seen[0], /^40\{"sid":/);
      assert.ok(seen.includes('42["auth",{}]'), `auth event: ${seen}`);
      const big = bigText(3000);
      const body = [event("message", big), event("message", "small"), event("message", big.slice(7))].join(RS);
      assert.equal((await h.request(q, { method: "POST", body })).body, "ok");
      let got = [];
      let last;
      while (got.length < 3 && Date.now() < deadline + 5000) {
        last = await h.request(q, { headers: { "Accept-Encoding": "gzip" }, timeoutMs: 5000 });
        got.push(...decoded(last).split(RS));
      }
      assert.deepEqual(got, [event("message-back", big), event("message-back", "small"), event("message-back", big.slice(7))]);
      // Unless the answers were split over several GETs, the last GET carried > 1 KiB.
      if (decoded(last).length >= 1024) assert.equal(last.headers["content-encoding"], "gzip");
      assertVary(last);
    });

    it("socket.io-client 4 over polling only: a 100 KB echo and a binary echo", T, async () => {
      const socket = await h.connect(server.url, { transports: ["polling"] });
      const big = bigText(100000);
      let back = h.once(socket, "message-back", 5000);
      socket.emit("message", big);
      assert.deepEqual(await back, [big]);
      const bin = bigBytes(20000);
      back = h.once(socket, "message-back", 5000);
      socket.emit("message", bin);
      assert.deepEqual(h.toBuffer((await back)[0]), bin);
      const [hs] = await h.emitAck(socket, "handshake");
      assert.equal(socket.io.engine.transport.name, "polling");
      // For the record: whether this client's XHR offered compression at all.
      console.log(`socket.io-client polling Accept-Encoding: ${hs.headers["accept-encoding"] ?? "(none)"}`);
    });

    it("--http-compression false: plain, whatever is accepted", T, async () => {
      const plain = await harness.start(["--http-compression", "false"]);
      try {
        const q = await echoSession(plain);
        for (const ae of ["gzip", "deflate", "gzip, deflate, br"]) {
          const res = await echoBack(q, BIG, ae);
          assert.equal(res.headers["content-encoding"], undefined, ae);
          assert.equal(res.body, BIG);
        }
      } finally {
        await plain.stop();
      }
    });

    it("--http-compression-threshold 100: 100 bytes compressed, 99 plain", T, async () => {
      const low = await harness.start(["--http-compression-threshold", "100"]);
      try {
        const q = await echoSession(low);
        for (const [len, enc] of [[100, "deflate"], [99, undefined], [300, "deflate"]]) {
          const packet = `4${"y".repeat(len - 1)}`;
          const res = await echoBack(q, packet, "deflate");
          assert.equal(res.headers["content-encoding"], enc, `${len} bytes`);
          assert.equal(decoded(res), packet);
        }
      } finally {
        await low.stop();
      }
    });

    it("--per-message-deflate-threshold 100: a 100-byte WebSocket message compressed, 99 plain", T, async () => {
      const low = await harness.start([...DEFLATE_ON, "--per-message-deflate-threshold", "100"]);
      try {
        const c = await openEcho(low.port);
        for (const [len, rsv1] of [[100, true], [99, false], [2000, true]]) {
          const payload = Buffer.alloc(len, 0x7a);
          c.socket.write(clientFrame(OP.binary, payload));
          const m = await nextMessage(c);
          assert.equal(m.rsv1, rsv1, `${len} bytes`);
          assert.deepEqual(m.data, payload);
        }
        c.socket.destroy();
      } finally {
        wire.destroyAll();
        await low.stop();
      }
    });
  });
}

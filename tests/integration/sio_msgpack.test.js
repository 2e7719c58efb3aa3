// `--parser msgpack`: every Socket.IO packet is one binary Engine.IO message in
// socket.io-msgpack-parser 3's format (a msgpack map {type, nsp, data?, id?}, binary inline
// as msgpack bin, types 0..4 only).
// - socket.io-client 4 with `parser: require("socket.io-msgpack-parser")` against the echo
//   fixture (docs/echo-fixture.md), over websocket and over polling: namespaces, acks both
//   ways, every JSON shape, Buffers at several depths, 500 KB of binary, broadcasts,
//   CONNECT_ERROR from /custom's middleware, server-side disconnects.
// - the same client with the default parser gets nowhere (bounded).
// - raw WebSocket frames (ws_wire.js; msgpack by notepack.io or by hand): each malformed
//   packet closes that session only and quickly; headers that declare more than the input
//   holds cost neither time nor memory; a witness client is answered after every case.
// - seed 001's relays (docs/chat-protocol.md §10) carry binary between two msgpack clients.
// - start-up: msgpack with allow-eio3 true, or an unknown parser, exits 2; msgpack alone
//   refuses Engine.IO v3.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const { spawnSync } = require("node:child_process");
const msgpackParser = require("socket.io-msgpack-parser");
const notepack = require("notepack.io");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");
const wire = require("./ws_wire");

const TEST_TIMEOUT = { timeout: 15000 };
const MSGPACK = ["--parser", "msgpack"];
const CLOSE_WITHIN_MS = 2000; // a parse error ends the session at once; this is the bound
// Headers declaring more than the input holds: refused without reserving what they
// announce (a sanitizer build runs the decoder several times slower).
const FAST_MS = wire.sanitizer() ? 5000 : 1000;
const RSS_JUMP_MB = 50;

// -- values with binary ------------------------------------------------------------------

/** What a client decoded, with every binary value (Buffer / ArrayBuffer / view) as a Buffer. */
function normalise(x) {
  if (h.isBinary(x)) return h.toBuffer(x);
  if (Array.isArray(x)) return x.map(normalise);
  if (x && typeof x === "object") return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, normalise(v)]));
  return x;
}

/** Every place `expected` has a Buffer holds binary with the same bytes in `actual`. */
function assertSameBinary(actual, expected, what = "value") {
  const check = (a, e, at) => {
    if (Buffer.isBuffer(e)) {
      assert.ok(h.isBinary(a), `${what}${at}: binary expected, got ${Object.prototype.toString.call(a)}`);
      assert.ok(h.toBuffer(a).equals(e), `${what}${at}: ${h.toBuffer(a).length} bytes differ from the ${e.length} sent`);
    } else if (Array.isArray(e)) {
      assert.ok(Array.isArray(a), `${what}${at}: array expected`);
      assert.strictEqual(a.length, e.length, `${what}${at}: length`);
      e.forEach((v, i) => check(a[i], v, `${at}[${i}]`));
    } else if (e && typeof e === "object") {
      assert.deepStrictEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${what}${at}: keys`);
      for (const k of Object.keys(e)) check(a[k], e[k], `${at}.${k}`);
    } else {
      assert.deepStrictEqual(a, e, `${what}${at}`);
    }
  };
  check(actual, expected, "");
}

/** v wrapped in `depth` single-key objects / arrays, alternating. */
function buried(depth, v) {
  let out = v;
  for (let i = 0; i < depth; i++) out = i % 2 ? [out] : { d: out };
  return out;
}

// -- msgpack by hand ---------------------------------------------------------------------

/** Bytes put verbatim where a value goes (for the shapes notepack will not write). */
class Raw {
  constructor(bytes) {
    this.bytes = Buffer.from(bytes);
  }
}
const raw = (...parts) => new Raw(Buffer.concat(parts.map((p) => Buffer.from(p))));

function u16(n) {
  return [(n >> 8) & 0xff, n & 0xff];
}
function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return [...b];
}

function containerHead(n, fix, c16, c32) {
  if (n < 16) return Buffer.from([fix | n]);
  if (n < 0x10000) return Buffer.from([c16, ...u16(n)]);
  return Buffer.from([c32, ...u32(n)]);
}

/** A msgpack str of these bytes (which need not be UTF-8). */
function str(bytes) {
  bytes = Buffer.from(bytes);
  const n = bytes.length;
  const head = n < 32 ? [0xa0 | n] : n < 256 ? [0xd9, n] : n < 0x10000 ? [0xda, ...u16(n)] : [0xdb, ...u32(n)];
  return Buffer.concat([Buffer.from(head), bytes]);
}

/**
 * MessagePack of v: Raw as is, arrays and Maps (any keys) and plain objects (string keys)
 * element by element, anything else as notepack.io writes it (Buffers as bin).
 */
function pack(v) {
  if (v instanceof Raw) return v.bytes;
  if (Array.isArray(v)) return Buffer.concat([containerHead(v.length, 0x90, 0xdc, 0xdd), ...v.map(pack)]);
  if (v instanceof Map) {
    const parts = [containerHead(v.size, 0x80, 0xde, 0xdf)];
    for (const [k, val] of v) parts.push(pack(k), pack(val));
    return Buffer.concat(parts);
  }
  if (v && typeof v === "object" && !Buffer.isBuffer(v)) return pack(new Map(Object.entries(v)));
  return notepack.encode(v);
}

const event = (data, extra = {}) => pack({ type: 2, nsp: "/", data, ...extra });

// -- raw WebSocket sessions --------------------------------------------------------------

/**
 * A raw Socket.IO WebSocket (ws_wire.rawUpgrade) past the Engine.IO OPEN; with connect, a
 * msgpack CONNECT to "/" sent and its answer and the fixture's `auth` event read.
 * s.send(bytes) sends a binary message, s.sendText(string) a text one; s.nextPacket()
 * decodes the next binary message (answering pings), null once the connection is gone.
 */
async function rawSession(port, { connect = true } = {}) {
  const s = await wire.rawUpgrade(port, wire.SIO_WS);
  const open = await s.frames.next();
  assert.ok(open && open.op === wire.OP.text && open.payload.toString().startsWith("0{"), "an Engine.IO OPEN");
  s.send = (bytes) => s.socket.write(wire.clientFrame(wire.OP.binary, bytes));
  s.sendText = (text) => s.socket.write(wire.clientFrame(wire.OP.text, Buffer.from(text)));
  s.nextPacket = async (timeoutMs = h.DEFAULT_TIMEOUT_MS) => {
    for (;;) {
      const f = await s.frames.next(timeoutMs);
      if (!f) return null;
      if (f.op === wire.OP.text && f.payload.toString() === "2") {
        s.sendText("3");
        continue;
      }
      if (f.op === wire.OP.close) return null;
      assert.strictEqual(f.op, wire.OP.binary, `a binary message expected, got op ${f.op}: ${f.payload.toString()}`);
      return { packet: notepack.decode(f.payload), bytes: f.payload };
    }
  };
  if (connect) {
    s.send(pack({ type: 0, nsp: "/" }));
    const { packet: ack } = await s.nextPacket();
    assert.strictEqual(ack.type, 0, JSON.stringify(ack));
    assert.strictEqual(ack.nsp, "/");
    assert.strictEqual(typeof ack.data.sid, "string");
    const { packet: auth } = await s.nextPacket();
    assert.deepStrictEqual(auth, { type: 2, nsp: "/", data: ["auth", {}] });
  }
  return s;
}

/**
 * Waits (bounded) for the server to end the session: a close frame or the TCP connection
 * closing. Resolves with {how, code, ms, answered} (answered: any Socket.IO packet or other
 * non-ping frame it sent first); rejects naming what came when it stays open.
 */
async function sessionEnd(s, sentAt, boundMs = CLOSE_WITHIN_MS) {
  const answered = [];
  const ended = (async () => {
    for (;;) {
      const f = await s.frames.next(boundMs + 500);
      if (!f) return { how: "connection closed" };
      if (f.op === wire.OP.close) return { how: "close frame", code: wire.codeOf(f) };
      if (f.op === wire.OP.text && f.payload.toString() === "2") continue;
      answered.push(f.op === wire.OP.binary ? notepack.decode(f.payload) : f.payload.toString());
    }
  })();
  const r = await h
    .withTimeout(ended, boundMs, "the server ending the session")
    .catch((err) => {
      err.message += `; the server sent meanwhile: ${JSON.stringify(answered).slice(0, 300)}`;
      throw err;
    });
  return { ...r, ms: Date.now() - sentAt, answered };
}

// -- clients -----------------------------------------------------------------------------

function mpClient(url, opts = {}) {
  return h.client(url, { parser: msgpackParser, ...opts });
}

if (!harness.isReference()) {
  for (const transport of ["websocket", "polling"]) {
    describe(`socket.io-client 4 + socket.io-msgpack-parser over ${transport}`, () => {
      let server;
      let url;
      const transports = [transport];

      before(async () => {
        server = await harness.start(MSGPACK);
        url = server.url;
      });
      after(async () => {
        await h.cleanup();
        if (server) await server.stop();
      });
      afterEach(() => h.cleanup());

      /** A connected msgpack client on nsp, its `auth` event read. */
      async function ready(nsp = "", opts = {}) {
        const socket = mpClient(url + nsp, { transports, ...opts });
        const auth = h.once(socket, "auth", 5000);
        auth.catch(() => {}); // awaited below, once connected
        await h.connected(socket);
        const [got] = await auth;
        assert.strictEqual(socket.io.engine.transport.name, transport);
        socket.authPayload = got;
        return socket;
      }

      it("connects on /, /custom and a dynamic namespace; `auth` comes back", TEST_TIMEOUT, async () => {
        const auth = { token: "abc", n: 1, nested: { list: [1, "two", null, true] }, "ünï": "😀" };
        for (const nsp of ["", "/custom", "/dyn-abc1"]) {
          const s = await ready(nsp, { auth });
          assert.ok(s.connected && typeof s.id === "string" && s.id.length > 0, nsp);
          assert.deepStrictEqual(s.authPayload, auth, nsp);
          assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", nsp || "/"), [nsp || "/"]);
        }
        const plain = await ready("");
        assert.deepStrictEqual(plain.authPayload, {});
        if (transport === "polling") {
          await h.delay(h.SETTLE_MS);
          assert.strictEqual(plain.io.engine.transport.name, "polling");
        }
      });

      it("one Manager on / and /custom: leaving / (a DISCONNECT packet) leaves /custom served", TEST_TIMEOUT, async () => {
        const manager = h.track(new h.Manager(url, { transports, parser: msgpackParser, reconnection: false, autoConnect: false }));
        const root = h.track(manager.socket("/"));
        const custom = h.track(manager.socket("/custom"));
        await Promise.all([h.connected(root), h.connected(custom)]);
        assert.deepStrictEqual(await h.emitAck(root, "message-with-ack", "root"), ["root"]);
        assert.deepStrictEqual(await h.emitAck(custom, "message-with-ack", "custom"), ["custom"]);
        root.disconnect();
        await h.delay(100);
        assert.ok(custom.connected);
        assert.deepStrictEqual(await h.emitAck(custom, "message-with-ack", "still"), ["still"]);
        const back = h.once(custom, "message-back");
        custom.emit("message", { after: "root left" });
        assert.deepStrictEqual(await back, [{ after: "root left" }]);
      });

      it("strings, numbers, nested objects and arrays, null, booleans: events and acks", TEST_TIMEOUT, async () => {
        const s = await ready();
        const values = [
          "hello",
          "",
          "ünïcødé ✓ 😀 \u0000 \u2028 <script>\"'",
          "x".repeat(70000),
          0,
          -1,
          42,
          -2147483649,
          2 ** 53 - 1,
          -(2 ** 53 - 1),
          3.5,
          -0.125,
          1.25e-300,
          123456.789,
          1.5e19, // (notepack.io itself mangles integral numbers from 2^64 up, e.g. 1e20 or 1e300)
          null,
          true,
          false,
          [],
          {},
          [1, "two", [3, [4, [5, null]]], { six: 6 }],
          { a: { b: { c: [null, { d: "e" }] } }, "key with spaces": 1, "": "empty key" },
          buried(40, "bottom"),
        ];
        const back = h.once(s, "message-back");
        s.emit("message", ...values);
        assert.deepStrictEqual(await back, values);
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", ...values), values);
        // Each alone too, and many acks in flight matched by id.
        const acks = await Promise.all(values.map((v) => h.emitAck(s, "message-with-ack", v)));
        assert.deepStrictEqual(acks, values.map((v) => [v]));
        // An ack with no args.
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack"), []);
        // In order.
        const got = [];
        s.on("message-back", (n) => got.push(n));
        for (let i = 0; i < 50; i++) s.emit("message", i);
        await h.waitFor(() => got.length === 50, 5000, "50 message-back");
        assert.deepStrictEqual(got, [...Array(50).keys()]);
      });

      it("Buffers at several depths come back as binary with the same bytes (events, acks)", TEST_TIMEOUT, async () => {
        const s = await ready();
        const args = [
          Buffer.from([0, 1, 2, 3, 254, 255]),
          { one: Buffer.from("depth 1") },
          { a: { b: [1, { c: Buffer.from("depth 4") }, "x"] } },
          buried(30, Buffer.from("thirty deep")),
          [Buffer.alloc(0), Buffer.from([7]), Buffer.alloc(300, 9), Buffer.alloc(70000, 3)],
          { mixed: [Buffer.from("a"), "text", 5, null, { b: Buffer.from("b") }] },
          "plain",
        ];
        const back = h.once(s, "message-back");
        s.emit("message", ...args);
        assertSameBinary(await back, args, "message-back");
        assertSameBinary(await h.emitAck(s, "message-with-ack", ...args), args, "ack");
        // 64 binary values in one packet (the default max-attachments) are fine.
        const many = Array.from({ length: 64 }, (_, i) => Buffer.from([i, i + 1]));
        assertSameBinary(await h.emitAck(s, "message-with-ack", many), [many], "64 Buffers");
      });

      it("500 KB of binary both ways", TEST_TIMEOUT, async () => {
        const s = await ready();
        const big = crypto.randomBytes(500 * 1024);
        const [ack] = await h.emitAck(s, "message-with-ack", big);
        assertSameBinary(ack, big, "500 KB ack");
        const back = h.once(s, "message-back", 5000);
        s.emit("message", { file: big, name: "big.bin" });
        assertSameBinary((await back)[0], { file: big, name: "big.bin" }, "500 KB event");
      });

      it("server -> client acks: answered (with binary) and timed out", TEST_TIMEOUT, async () => {
        const s = await ready();
        let pingArgs;
        s.on("ping-ack", (...args) => {
          const cb = args.pop();
          pingArgs = args;
          cb("pong", { n: 7, bin: Buffer.from([1, 2, 3]) }, Buffer.from("top"));
        });
        const result = h.once(s, "ack-result", 5000);
        s.emit("server-ack", { timeout: 2000 });
        const [res] = await result;
        assert.deepStrictEqual(pingArgs, ["hello"]);
        assertSameBinary(res, { ok: true, args: ["pong", { n: 7, bin: Buffer.from([1, 2, 3]) }, Buffer.from("top")] });

        s.off("ping-ack");
        const pinged = h.once(s, "ping-ack");
        s.on("ping-ack", () => {
          /* never acks */
        });
        const timedOut = h.once(s, "ack-result", 5000);
        s.emit("server-ack", { timeout: 200 });
        await pinged;
        assert.deepStrictEqual((await timedOut)[0], { ok: false, error: "timeout" });
      });

      it("broadcast with binary to a room of msgpack clients", TEST_TIMEOUT, async () => {
        const [a, b, outsider] = await Promise.all([ready(), ready(), ready()]);
        for (const s of [a, b]) assert.deepStrictEqual(await h.emitAck(s, "join", "r1"), ["r1"]);
        const data = { chunk: crypto.randomBytes(4096), meta: { parts: [Buffer.from("p1"), Buffer.from("p2")] } };
        const got = [a, b].map((s) => h.once(s, "bin-news"));
        const none = h.noEvent(outsider, "bin-news", 500);
        assert.deepStrictEqual(await h.emitAck(a, "broadcast", { rooms: ["r1"], event: "bin-news", data }), ["ok"]);
        for (const [d] of await Promise.all(got)) assertSameBinary(d, data, "bin-news");
        assert.ok(await none, "a socket outside the room got the broadcast");
      });

      it("handshake and rooms acks", TEST_TIMEOUT, async () => {
        const s = await ready("", { query: { foo: "bar" }, auth: { user: "u1" } });
        const [hs] = await h.emitAck(s, "handshake");
        assert.strictEqual(hs.query.foo, "bar");
        assert.deepStrictEqual(hs.auth, { user: "u1" });
        assert.deepStrictEqual(await h.emitAck(s, "rooms"), [[s.id]]);
      });

      it("CONNECT_ERROR from /custom's middleware and for an unknown namespace", TEST_TIMEOUT, async () => {
        const err = await h.connectError(`${url}/custom`, { transports, parser: msgpackParser, auth: { reject: true } });
        assert.strictEqual(err.message, "not authorized");
        assert.deepStrictEqual(err.data, { code: "E_REJECTED" });
        const invalid = await h.connectError(`${url}/nope`, { transports, parser: msgpackParser });
        assert.strictEqual(invalid.message, "Invalid namespace");
        // The refused client's transport still works for the main namespace.
        const s = await ready();
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "after refusal"), ["after refusal"]);
      });

      it("disconnect-me: 'io server disconnect'; close-transport: 'transport close'", TEST_TIMEOUT, async () => {
        const s = await ready();
        const gone = h.once(s, "disconnect", 5000);
        s.emit("disconnect-me");
        assert.strictEqual((await gone)[0], "io server disconnect");
        const t = await ready();
        const closed = h.once(t, "disconnect", 5000);
        t.emit("close-transport");
        assert.strictEqual((await closed)[0], "transport close");
      });

      it("a client with the default parser never connects (bounded) and others are served", TEST_TIMEOUT, async (t) => {
        const witness = await ready();
        const plain = h.client(url, { transports });
        const seen = [];
        plain.on("connect", () => seen.push("connect"));
        plain.on("connect_error", (e) => seen.push(`connect_error: ${e.message}`));
        plain.on("disconnect", (reason) => seen.push(`disconnect: ${reason}`));
        plain.connect();
        await h.waitFor(() => seen.length > 0, 5000, "the default-parser client to fail");
        await h.delay(h.SETTLE_MS);
        t.diagnostic(`the default-parser client saw: ${JSON.stringify(seen)}`);
        assert.ok(!seen.includes("connect"), `connected: ${seen}`);
        assert.ok(
          seen.length > 0 && seen.every((e) => /^disconnect: (transport close|parse error)$/.test(e)),
          `unexpected: ${JSON.stringify(seen)}`,
        );
        assert.strictEqual(plain.connected, false);
        assert.ok(witness.connected);
        assert.deepStrictEqual(await h.emitAck(witness, "message-with-ack", "alive"), ["alive"]);
      });
    });
  }

  describe("raw msgpack frames: the wire format", () => {
    let server;

    before(async () => {
      server = await harness.start(MSGPACK);
    });
    after(async () => {
      wire.destroyAll();
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => wire.destroyAll());

    it("packets are maps {type, nsp, data?, id?} with binary inline; types 2 and 3 carry binary", TEST_TIMEOUT, async () => {
      const s = await rawSession(server.port);
      // Keys socket.io-client adds (options) and notepack's undefined are tolerated.
      s.send(event(["message-with-ack", "hi", Buffer.from([1, 2]), { deep: [Buffer.from("x")] }], { id: 0, options: { compress: true } }));
      const { packet: ack } = await s.nextPacket();
      assert.deepStrictEqual(Object.keys(ack).sort(), ["data", "id", "nsp", "type"]);
      assert.strictEqual(ack.type, 3);
      assert.strictEqual(ack.nsp, "/");
      assert.strictEqual(ack.id, 0);
      assertSameBinary(ack.data, ["hi", Buffer.from([1, 2]), { deep: [Buffer.from("x")] }]);
      s.send(event(["message", Buffer.from("bin"), "t"]));
      const { packet: ev } = await s.nextPacket();
      assert.strictEqual(ev.type, 2);
      assertSameBinary(ev.data, ["message-back", Buffer.from("bin"), "t"]);
      s.send(pack({ type: 2, nsp: "/", data: ["message-with-ack", undefined, 1], id: 2 ** 32 + 5 }));
      const { packet: ack2 } = await s.nextPacket();
      assert.strictEqual(ack2.id, 2 ** 32 + 5);
      assert.deepStrictEqual(ack2.data, [null, 1]);
      // A CONNECT to another namespace with auth data, and a DISCONNECT of it.
      s.send(pack({ type: 0, nsp: "/custom", data: { k: "v" } }));
      const { packet: c2 } = await s.nextPacket();
      assert.strictEqual(c2.type, 0);
      assert.strictEqual(c2.nsp, "/custom");
      const { packet: auth2 } = await s.nextPacket();
      assert.deepStrictEqual(auth2, { type: 2, nsp: "/custom", data: ["auth", { k: "v" }] });
      s.send(pack({ type: 1, nsp: "/custom" }));
      s.send(event(["message-with-ack", "after"], { id: 9 }));
      const { packet: ack3 } = await s.nextPacket();
      assert.deepStrictEqual(ack3, { type: 3, nsp: "/", id: 9, data: ["after"] });
      // Nesting well under the bound.
      const deep = Buffer.concat([Buffer.alloc(60, 0x91), Buffer.from([0xc0])]);
      s.send(event(["message-with-ack", raw(deep)], { id: 10 }));
      const { packet: ack4 } = await s.nextPacket();
      assert.strictEqual(JSON.stringify(ack4.data), "[" + "[".repeat(60) + "null" + "]".repeat(60) + "]");
    });

    it("notepack's extensions read as notepack reads them: undefined, Date, ArrayBuffer, [type, bytes]", TEST_TIMEOUT, async () => {
      const R = (...bytes) => raw(bytes.flat());
      const s = await rawSession(server.port);
      const when = new Date(Date.UTC(2022, 1, 27, 22, 13, 20));
      s.send(
        event(
          [
            "message-with-ack",
            R(0xd4, 0x00, 0x00), // undefined
            raw(notepack.encode(when)), // notepack: fixext 8 type 0
            raw(notepack.encode(new Uint8Array([7]).buffer)), // notepack: ext 8 type 0, one byte (not undefined)
            R(0xd4, 0x01, 0x00),
            R(0xd6, 0xff, 0, 0, 0, 1),
            R(0xc7, 0x03, 0x05, 1, 2, 3),
            R(0xd8, 0x7f, Array(16).fill(1)),
          ],
          { id: 4 },
        ),
      );
      const { packet: ack } = await s.nextPacket();
      assert.strictEqual(ack.type, 3);
      assert.strictEqual(ack.data[0], null);
      assert.strictEqual(ack.data[1], when.toISOString()); // as JSON.stringify writes a Date
      assertSameBinary(ack.data[2], Buffer.from([7]));
      assert.strictEqual(ack.data[3][0], 1);
      assertSameBinary(ack.data[3][1], Buffer.from([0]));
      assert.strictEqual(ack.data[4][0], -1);
      assertSameBinary(ack.data[4][1], Buffer.from([0, 0, 0, 1]));
      assert.strictEqual(ack.data[5][0], 5);
      assertSameBinary(ack.data[5][1], Buffer.from([1, 2, 3]));
      assert.strictEqual(ack.data[6][0], 127);
      assertSameBinary(ack.data[6][1], Buffer.alloc(16, 1));
    });

    it("the raw Engine.IO echo at /engine.io/ is not Socket.IO: text is echoed", TEST_TIMEOUT, async () => {
      const e = await wire.openEcho(server.port);
      e.socket.write(wire.clientFrame(wire.OP.text, Buffer.from("4hello")));
      for (;;) {
        const f = await e.frames.next();
        assert.ok(f, "echo connection closed");
        if (f.op === wire.OP.text && f.payload.toString() === "2") continue;
        assert.strictEqual(f.payload.toString(), "4hello");
        break;
      }
    });
  });

  // -- malformed input -----------------------------------------------------------------

  const reserved = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];
  const R = (...bytes) => raw(bytes.flat());
  const ok = { type: 2, nsp: "/", data: ["message", "x"] };

  /** {name, bytes | text, connect?, huge?} */
  const malformed = [
    { name: "a text Socket.IO EVENT", text: '42["message","hi"]' },
    { name: "a text CONNECT before any packet", text: "40", connect: false },
    { name: "an empty binary message", bytes: Buffer.alloc(0) },
    { name: "the unused byte 0xc1", bytes: Buffer.from([0xc1]) },
    { name: "not a map: an array", bytes: notepack.encode([2, "/", ["message"]]) },
    { name: "not a map: a string", bytes: notepack.encode("42[\"message\"]") },
    { name: "not a map: an integer", bytes: notepack.encode(2) },
    { name: "not a map: nil", bytes: Buffer.from([0xc0]) },
    { name: "a truncated map", bytes: pack(ok).subarray(0, pack(ok).length - 1) },
    { name: "type missing", bytes: pack({ nsp: "/", data: ["message"] }) },
    { name: "type 5 (the text parser's BINARY_EVENT)", bytes: pack({ ...ok, type: 5 }) },
    { name: "type 6", bytes: pack({ type: 6, nsp: "/", id: 1, data: ["x"] }) },
    { name: "type 255", bytes: pack({ ...ok, type: 255 }) },
    { name: "type -1", bytes: pack({ ...ok, type: -1 }) },
    { name: "type a string", bytes: pack({ ...ok, type: "2" }) },
    { name: "type 2.5", bytes: pack({ ...ok, type: 2.5 }) },
    { name: "type nil", bytes: pack({ ...ok, type: null }) },
    { name: "nsp missing", bytes: pack({ type: 2, data: ["message"] }) },
    { name: "nsp an integer", bytes: pack({ ...ok, nsp: 1 }) },
    { name: "nsp nil", bytes: pack({ ...ok, nsp: null }) },
    { name: "nsp bin", bytes: pack({ ...ok, nsp: Buffer.from("/") }) },
    { name: "nsp empty", bytes: pack({ ...ok, nsp: "" }) },
    { name: "nsp without a leading /", bytes: pack({ ...ok, nsp: "custom" }) },
    { name: "nsp of 300 characters", bytes: pack({ ...ok, nsp: "/" + "a".repeat(299) }) },
    { name: "nsp not UTF-8", bytes: pack({ ...ok, nsp: raw(str([0x2f, 0xff])) }) },
    { name: "id -1", bytes: pack({ ...ok, id: -1 }) },
    { name: "id -2^40", bytes: pack({ ...ok, id: -(2 ** 40) }) },
    { name: "id 1.5", bytes: pack({ ...ok, id: 1.5 }) },
    { name: "id a string", bytes: pack({ ...ok, id: "1" }) },
    { name: "id nil", bytes: pack({ ...ok, id: null }) },
    { name: "id true", bytes: pack({ ...ok, id: true }) },
    { name: "EVENT data a string", bytes: pack({ ...ok, data: "message" }) },
    { name: "EVENT data a map", bytes: pack({ ...ok, data: { 0: "message" } }) },
    { name: "EVENT without data", bytes: pack({ type: 2, nsp: "/" }) },
    { name: "EVENT data []", bytes: pack({ ...ok, data: [] }) },
    { name: "EVENT data [1, 'x']", bytes: pack({ ...ok, data: [1, "x"] }) },
    { name: "EVENT data [nil]", bytes: pack({ ...ok, data: [null] }) },
    { name: "EVENT name as bin", bytes: pack({ ...ok, data: [Buffer.from("message")] }) },
    ...reserved.map((r) => ({ name: `EVENT '${r}' (reserved)`, bytes: pack({ ...ok, data: [r, 1] }) })),
    { name: "ACK data a string", bytes: pack({ type: 3, nsp: "/", id: 1, data: "x" }) },
    { name: "ACK without data", bytes: pack({ type: 3, nsp: "/", id: 1 }) },
    { name: "CONNECT data a string", bytes: pack({ type: 0, nsp: "/custom", data: "token" }) },
    { name: "CONNECT data an array", bytes: pack({ type: 0, nsp: "/custom", data: [1] }) },
    { name: "DISCONNECT with data", bytes: pack({ type: 1, nsp: "/", data: "bye" }) },
    { name: "CONNECT_ERROR data a number", bytes: pack({ type: 4, nsp: "/", data: 5 }) },
    { name: "a string value not UTF-8", bytes: event(["message", raw(str([0x61, 0xff, 0xfe]))]) },
    { name: "the event name not UTF-8", bytes: event([raw(str([0xc3, 0x28]))]) },
    { name: "an overlong NUL (c0 80)", bytes: event(["message", raw(str([0xc0, 0x80]))]) },
    { name: "a UTF-16 surrogate (ed a0 80)", bytes: event(["message", raw(str([0xed, 0xa0, 0x80]))]) },
    { name: "above U+10FFFF (f4 90 80 80)", bytes: event(["message", raw(str([0xf4, 0x90, 0x80, 0x80]))]) },
    { name: "a truncated sequence (e2 82)", bytes: event(["message", raw(str([0x41, 0xe2, 0x82]))]) },
    { name: "a map key not UTF-8", bytes: event(["message", new Map([[raw(str([0xff])), 1]])]) },
    { name: "a map key an integer (in data)", bytes: event(["message", new Map([[1, "x"]])]) },
    { name: "a map key nil (in data)", bytes: event(["message", { a: new Map([[null, "x"]]) }]) },
    { name: "a map key bin (in data)", bytes: event(["message", new Map([[Buffer.from("k"), "x"]])]) },
    { name: "a map key an array (in data)", bytes: event(["message", new Map([[["k"], "x"]])]) },
    { name: "a map key an integer (the packet's map)", bytes: pack(new Map([["type", 2], ["nsp", "/"], ["data", ["message"]], [7, "x"]])) },
    { name: "a _placeholder key", bytes: event(["message", { _placeholder: true, num: 0 }]) },
    { name: "a _placeholder key, nested", bytes: event(["message", { a: [1, { _placeholder: true, num: 0 }] }]) },
    { name: "a _placeholder key in an ACK", bytes: pack({ type: 3, nsp: "/", id: 1, data: [{ _placeholder: false }] }) },
    { name: "ext as the event name", bytes: event([R(0xd4, 0x01, 0x00)]) },
    { name: "nesting 200 arrays deep", bytes: event(["message", raw(Buffer.alloc(200, 0x91), [0xc0])]) },
    { name: "nesting 200 maps deep", bytes: event(["message", raw(Buffer.concat(Array(200).fill(Buffer.from([0x81, 0xa1, 0x61]))), [0xc0])]) },
    { name: "nesting 100000 arrays deep", bytes: event(["message", raw(Buffer.alloc(100000, 0x91), [0xc0])]), huge: true },
    { name: "65 bin values (max-attachments 64)", bytes: event(["message", ...Array.from({ length: 65 }, (_, i) => Buffer.from([i]))]) },
    { name: "65 bin values spread over maps", bytes: event(["message", ...Array.from({ length: 65 }, (_, i) => ({ b: [Buffer.from([i])] }))]) },
    { name: "65 bin values in an ACK", bytes: pack({ type: 3, nsp: "/", id: 1, data: Array.from({ length: 65 }, () => Buffer.alloc(1)) }) },
    { name: "200000 empty bin values", bytes: event(["message", raw([0xdd, ...u32(200000)], Buffer.alloc(400000, 0).fill(Buffer.from([0xc4, 0x00])))]), huge: true },
    { name: "a nil after the packet", bytes: Buffer.concat([pack(ok), Buffer.from([0xc0])]) },
    { name: "a second packet after the packet", bytes: Buffer.concat([pack(ok), pack(ok)]) },
    { name: "a zero byte after the packet", bytes: Buffer.concat([pack(ok), Buffer.from([0])]) },
    { name: "array32 of 0xFFFFFFFF elements as the packet", bytes: Buffer.from([0xdd, 0xff, 0xff, 0xff, 0xff]), huge: true },
    { name: "array32 of 0xFFFFFFFF elements as data", bytes: pack({ type: 2, nsp: "/", data: R(0xdd, 0xff, 0xff, 0xff, 0xff) }), huge: true },
    { name: "array32 of 0xFFFFFFFF elements in an event", bytes: event(["message", R(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0)]), huge: true },
    { name: "map32 of 0xFFFFFFFF entries as the packet", bytes: Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa4, 0x74, 0x79, 0x70, 0x65, 0x02]), huge: true },
    { name: "map32 of 0xFFFFFFFF entries in an event", bytes: event(["message", R(0xdf, 0xff, 0xff, 0xff, 0xff)]), huge: true },
    { name: "str32 of 0xFFFFFFFF bytes", bytes: event(["message", R(0xdb, 0xff, 0xff, 0xff, 0xff, 0x61)]), huge: true },
    { name: "bin32 of 0xFFFFFFFF bytes", bytes: event(["message", R(0xc6, 0xff, 0xff, 0xff, 0xff, 0x61)]), huge: true },
    { name: "ext32 of 0xFFFFFFFF bytes", bytes: event(["message", R(0xc9, 0xff, 0xff, 0xff, 0xff, 0x00, 0x61)]), huge: true },
    {
      // 120 nested array32 headers, each declaring as many elements as the message has bytes
      // (so no header alone passes a size check), over ~900 KB of nils.
      name: "120 nested array32 headers each declaring ~900 K elements",
      bytes: (() => {
        const total = 900000;
        const head = event(["message", raw([])]);
        const n = total;
        const headers = Buffer.concat(Array.from({ length: 120 }, () => Buffer.from([0xdd, ...u32(n)])));
        return Buffer.concat([head, headers, Buffer.alloc(total - head.length - headers.length, 0xc0)]);
      })(),
      huge: true,
    },
    {
      name: "120 nested map32 headers each declaring ~450 K entries",
      bytes: (() => {
        const total = 900000;
        const head = event(["message", raw([])]);
        const n = total / 2;
        const headers = Buffer.concat(Array.from({ length: 120 }, () => Buffer.from([0xdf, ...u32(n), 0xa1, 0x6b])));
        return Buffer.concat([head, headers, Buffer.alloc(total - head.length - headers.length, 0xc0)]);
      })(),
      huge: true,
    },
  ];

  describe("raw msgpack frames: a malformed packet closes that session only", () => {
    let server;
    let witness;

    before(async () => {
      server = await wire.startWithSmallQuarantine(MSGPACK);
      witness = await h.connected(mpClient(server.url, { transports: ["websocket"] }));
    });
    after(async () => {
      wire.destroyAll();
      await h.cleanup();
      if (server) await server.stop();
    });
    afterEach(() => wire.destroyAll());

    async function witnessServed(what) {
      assert.ok(witness.connected, `the witness client was disconnected by ${what}`);
      const bin = Buffer.from([1, 2, 3]);
      assertSameBinary(await h.emitAck(witness, "message-with-ack", "alive", bin), ["alive", bin], `witness after ${what}`);
      const fresh = await h.connected(mpClient(server.url, { transports: ["polling"] }));
      assert.deepStrictEqual(await h.emitAck(fresh, "message-with-ack", "fresh"), ["fresh"]);
      fresh.disconnect();
    }

    for (const m of malformed) {
      it(`${m.name} -> session closed${m.huge ? ` within ${FAST_MS} ms, RSS +< ${RSS_JUMP_MB} MB` : ""}`, TEST_TIMEOUT, async (t) => {
        const s = await rawSession(server.port, { connect: m.connect !== false });
        const rssBefore = wire.rssMb(server.proc.pid);
        const sentAt = Date.now();
        if (m.text !== undefined) s.sendText(m.text);
        else s.send(m.bytes);
        const end = await sessionEnd(s, sentAt, m.huge ? FAST_MS : CLOSE_WITHIN_MS);
        const rssAfter = wire.rssMb(server.proc.pid);
        t.diagnostic(`${end.how}${end.code ? ` ${end.code}` : ""} after ${end.ms} ms; RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MB`);
        assert.deepStrictEqual(end.answered, [], "nothing answered before the close");
        if (end.code !== undefined) assert.ok([1000, 1002, 1007, 1008].includes(end.code), `close code ${end.code}`);
        if (m.huge) {
          assert.ok(end.ms < FAST_MS, `took ${end.ms} ms`);
          assert.ok(rssAfter - rssBefore < RSS_JUMP_MB, `RSS ${rssBefore.toFixed(1)} -> ${rssAfter.toFixed(1)} MB`);
        }
        await witnessServed(m.name);
      });
    }

    it("after every case: the server is alive and its RSS is bounded", TEST_TIMEOUT, async (t) => {
      const rss = wire.rssMb(server.proc.pid);
      t.diagnostic(`RSS ${rss.toFixed(1)} MB`);
      assert.ok(rss < (wire.sanitizer() ? 400 : 150), `RSS ${rss.toFixed(1)} MB`);
      await witnessServed("all the cases");
    });
  });

  // -- seed 001's relays ---------------------------------------------------------------

  describe("seed 001's relays on --app chat --parser msgpack", () => {
    afterEach(() => h.cleanup());

    async function joinAll(sockets, room) {
      for (const s of sockets) {
        const [ack] = await h.emitAck(s, "join-room", { room });
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      }
    }

    const mp = (url, opts) => c.chatConnect(url, { parser: msgpackParser, ...opts });

    it("message.sent and typing.started carry binary between msgpack clients (websocket and polling)", TEST_TIMEOUT, () =>
      c.withChat(MSGPACK, async (server) => {
        const alice = await mp(server.url, { transports: ["websocket"], auth: { userId: "1", username: "Alice" } });
        const bob = await mp(server.url, { transports: ["polling"], auth: { userId: "2", username: "Bob" } });
        const carol = await mp(server.url, { transports: ["websocket"], auth: { userId: "3", username: "Carol" } });
        await joinAll([alice, bob], "chat.room.1");
        await joinAll([carol], "chat.room.2");
        const file = {
          room: "chat.room.1",
          type: "file",
          name: "photo.jpg",
          chunk: crypto.randomBytes(200 * 1024),
          audio: { codec: "opus", chunks: [crypto.randomBytes(1000), Buffer.alloc(0), Buffer.from([0, 255])] },
          timestamp: 1700000000000,
        };
        const [ack] = await h.emitAck(alice, "message.sent", file);
        assert.deepStrictEqual(ack, { status: "ok" });
        const [toBob] = await bob.inbox.take("message.sent", 5000);
        assertSameBinary(toBob, file, "bob's message.sent");
        const [toAlice] = await alice.inbox.take("message.sent", 5000);
        assertSameBinary(toAlice, file, "the sender's copy");
        await c.assertNone([carol], "message.sent");

        // From the polling side, without a room (every room the sender joined).
        const reply = { text: "got it", thumb: crypto.randomBytes(3000) };
        bob.emit("message.sent", reply);
        assertSameBinary((await alice.inbox.take("message.sent", 5000))[0], reply, "alice's copy of bob's");

        const typing = { room: "chat.room.1", user: "Alice", preview: Buffer.from("ty") };
        alice.emit("typing.started", typing);
        assertSameBinary((await bob.inbox.take("typing.started"))[0], typing, "typing.started");
        await c.assertNone([alice, carol], "typing.started");
      }),
    );

    it("the server's own events reach msgpack clients: join acks, errors, /notifications from /api/emit", TEST_TIMEOUT, () =>
      c.withChat([...MSGPACK, "--api-key", "k"], async (server) => {
        const alice = await mp(server.url, { transports: ["websocket"] });
        const [refused] = await h.emitAck(alice, "message.sent", { text: "no room" });
        assert.deepStrictEqual(refused, { status: "error", error: "Join a room first" });
        const [presence] = await h.emitAck(alice, "join-room", { room: "presence.room.1" });
        assert.strictEqual(presence.status, "ok");
        const u1 = await mp(`${server.url}/notifications`, { transports: ["polling"], auth: { userId: "1" } });
        const res = await c.httpJson(`${server.url}/api/emit`, {
          method: "POST",
          headers: { "X-API-Key": "k" },
          body: { namespace: "/notifications", event: "alert", userId: "1", data: { level: "info", n: [1, 2] } },
        });
        assert.strictEqual(res.status, 200, res.body);
        assert.deepStrictEqual((await u1.inbox.take("alert"))[0], { level: "info", n: [1, 2] });
      }),
    );

    it("Engine.IO v3 handshakes are refused with --parser msgpack alone (the chat app allows them otherwise)", TEST_TIMEOUT, async () => {
      const eio3 = (url) => h.request(`${url}/socket.io/?EIO=3&transport=polling`);
      await c.withChat([], async (server) => {
        const res = await eio3(server.url);
        assert.strictEqual(res.status, 200, `control: the chat app without msgpack accepts EIO=3: ${res.body}`);
      });
      await c.withChat(MSGPACK, async (server) => {
        const res = await eio3(server.url);
        assert.strictEqual(res.status, 400, res.body);
        assert.deepStrictEqual(JSON.parse(res.body), { code: 5, message: "Unsupported protocol version" });
        const ok = await mp(server.url, { transports: ["polling"] });
        assert.ok(ok.connected);
      });
    });
  });

  // -- start-up ------------------------------------------------------------------------

  describe("--parser at start-up", () => {
    /** Runs chat-server with args (bounded: killed after 5 s), resolves {status, stdout, stderr}. */
    function run(args) {
      const r = spawnSync(
        process.env.CHAT_SERVER,
        ["--app", "echo", "--host", "127.0.0.1", "--port", "0", ...args],
        { encoding: "utf8", timeout: 5000, killSignal: "SIGKILL" },
      );
      return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    }

    for (const args of [
      ["--parser", "msgpack", "--allow-eio3", "true"],
      ["--allow-eio3", "true", "--parser", "msgpack"],
    ]) {
      it(`${args.join(" ")}: exit 2, one line`, TEST_TIMEOUT, () => {
        const r = run(args);
        assert.strictEqual(r.status, 2, JSON.stringify(r));
        assert.ok(!/listening on/.test(r.stdout), r.stdout);
        const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
        assert.strictEqual(lines.length, 1, JSON.stringify(r.stderr));
        assert.match(lines[0], /eio3|parser|msgpack/i);
      });
    }

    it("--parser bogus: exit 2", TEST_TIMEOUT, () => {
      const r = run(["--parser", "bogus"]);
      assert.strictEqual(r.status, 2, JSON.stringify(r));
      assert.ok(!/listening on/.test(r.stdout), r.stdout);
      assert.match(r.stderr, /parser/);
    });

    it("--parser default speaks the text parser; --parser msgpack --allow-eio3 false starts", TEST_TIMEOUT, async () => {
      const text = await harness.start(["--parser", "default"]);
      try {
        const s = await h.connect(text.url, { transports: ["websocket"] });
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "text"), ["text"]);
      } finally {
        await h.cleanup();
        await text.stop();
      }
      const mp = await harness.start([...MSGPACK, "--allow-eio3", "false"]);
      try {
        const s = await h.connected(mpClient(mp.url, { transports: ["websocket"] }));
        assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", "mp"), ["mp"]);
      } finally {
        await h.cleanup();
        await mp.stop();
      }
    });
  });
}

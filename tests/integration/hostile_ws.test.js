// The malformed-input matrix, WebSocket framing and Engine.IO (issue 9). Frames are
// written by hand on raw TCP against the raw Engine.IO echo (/engine.io/); the answer
// is the close code of RFC 6455 §7.4 (1002 protocol error, 1007 invalid data, 1009 too
// big). Engine.IO payloads go over raw HTTP polling and raw frames; the answer is the
// request error of engine.io (400 {"code","message"}) and the session's end.
"use strict";

const assert = require("node:assert");
const h = require("./helpers");
const wire = require("./ws_wire");
const { runMatrix, rawHttp } = require("./hostile_matrix");

const { OP, clientFrame, closePayload } = wire;
const MAX_BODY = 100000; // --max-http-buffer-size for this file
const RS = "\x1e";
const EIO = "/engine.io/"; // the raw Engine.IO echo: every message comes back

// -- WebSocket framing -----------------------------------------------------------------

/** A frame header with any first byte, mask bit and 64-bit length (no payload). */
function header64(b0, length, { masked = true } = {}) {
  const head = Buffer.alloc(14);
  head[0] = b0;
  head[1] = (masked ? 0x80 : 0) | 127;
  head.writeBigUInt64BE(BigInt(length), 2);
  return masked ? head : head.subarray(0, 10);
}

/** `frames` written on an open echo connection must be answered with close `code`. */
function ws(name, code, frames) {
  const answer = { 1002: "close 1002", 1007: "close 1007", 1009: "close 1009" }[code] || `close ${code}`;
  return {
    cls: "WebSocket",
    name,
    answer: `${answer}, nothing echoed, connection closed`,
    async run(server) {
      const c = await wire.openEcho(server.port);
      for (const f of typeof frames === "function" ? frames() : frames) c.socket.write(f);
      const seen = [];
      let f;
      while ((f = await c.frames.next()) && f.op !== OP.close) seen.push(f.payload.toString());
      assert.deepStrictEqual(seen, [], "nothing echoed");
      assert.strictEqual(wire.codeOf(f), code);
      assert.strictEqual(await c.frames.next(), null, "the connection ends");
    },
  };
}

const text = (s, opts) => clientFrame(OP.text, Buffer.from(s), opts);
const withByte0 = (frame, b0) => Buffer.concat([Buffer.from([b0]), frame.subarray(1)]);
const bytes = (...parts) => Buffer.concat(parts.map((p) => Buffer.from(p)));

const wsCases = [
  ws("an unmasked text frame", 1002, [Buffer.concat([Buffer.from([0x81, 6]), Buffer.from("4hello")])]),
  ws("RSV1 set (no extension negotiated)", 1002, [withByte0(text("4a"), 0xc1)]),
  ws("RSV2 set", 1002, [withByte0(text("4a"), 0xa1)]),
  ws("RSV3 set", 1002, [withByte0(text("4a"), 0x91)]),
  ws("reserved data opcode 0x3", 1002, [clientFrame(0x3, "4a")]),
  ws("reserved control opcode 0xB", 1002, [clientFrame(0xb, "x")]),
  ws("a ping of 126 bytes", 1002, [clientFrame(OP.ping, Buffer.alloc(126, 0x61))]),
  ws("a close of 126 bytes", 1002, [clientFrame(OP.close, closePayload(1000, "r".repeat(124)))]),
  ws("a fragmented ping (FIN clear)", 1002, [clientFrame(OP.ping, "x", { fin: false })]),
  ws("a continuation without a start", 1002, [clientFrame(OP.continuation, "4a")]),
  ws("a new text frame inside a fragmented message", 1002, [text("4a", { fin: false }), text("4b")]),
  ws("a length of 2^63 (most significant bit set)", 1002, [header64(0x82, 1n << 63n)]),
  ws("a length of 2^63 - 1", 1009, [header64(0x82, (1n << 63n) - 1n)]),
  ws(`a frame announcing ${MAX_BODY + 1} bytes (over max-http-buffer-size)`, 1009, [header64(0x82, MAX_BODY + 1)]),
  ws("fragments adding up past max-http-buffer-size", 1009, () => [
    clientFrame(OP.binary, Buffer.alloc(60000), { fin: false }),
    clientFrame(OP.continuation, Buffer.alloc(60000)),
  ]),
  ws("text that is not UTF-8 (an overlong '/')", 1007, [text(bytes("4", [0xc0, 0xaf]))]),
  ws("text fragments with a code point cut at the end", 1007, [
    text(bytes("4ab"), { fin: false }),
    clientFrame(OP.continuation, bytes([0xe2, 0x9c])),
  ]),
  ws("close code 1005 (never sent on the wire)", 1002, [clientFrame(OP.close, closePayload(1005))]),
  ws("close code 999", 1002, [clientFrame(OP.close, closePayload(999))]),
  ws("close code 5000", 1002, [clientFrame(OP.close, closePayload(5000))]),
  ws("a close with a 1-byte payload", 1002, [clientFrame(OP.close, Buffer.from([0x03]))]),
  ws("a close reason that is not UTF-8", 1007, [clientFrame(OP.close, closePayload(1000, Buffer.from([0xff, 0xfe])))]),
  ws("close 1000 with a reason (valid: echoed)", 1000, [clientFrame(OP.close, closePayload(1000, "bye"))]),
  {
    cls: "WebSocket",
    name: "the upgrade and a text frame, one byte per write",
    answer: "101, then the message echoed",
    async run(server) {
      const c = await wire.openEcho(server.port, { bytewise: true });
      await wire.writeBytewise(c.socket, text("4one byte at a time ✓"));
      const f = await c.frames.next();
      assert.strictEqual(f.op, OP.text);
      assert.strictEqual(f.payload.toString(), "4one byte at a time ✓");
    },
  },
  {
    cls: "WebSocket",
    name: "a 125-byte ping, one byte per write",
    answer: "a pong with the same 125 bytes",
    async run(server) {
      const c = await wire.openEcho(server.port);
      const payload = Buffer.alloc(125, 0x70);
      await wire.writeBytewise(c.socket, clientFrame(OP.ping, payload));
      const f = await c.frames.next();
      assert.strictEqual(f.op, OP.pong);
      assert.deepStrictEqual(f.payload, payload);
    },
  },
  upgradeRefused("Sec-WebSocket-Version: 12", "400 with Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n",
    (r) => assert.strictEqual(r.headers["sec-websocket-version"], "13")),
  upgradeRefused("no Sec-WebSocket-Key", "400", "Sec-WebSocket-Version: 13\r\n"),
];

function upgradeRefused(name, answer, fields, check) {
  return {
    cls: "WebSocket",
    name: `an upgrade with ${name}`,
    answer,
    async run(server) {
      const r = await rawHttp(
        server.port,
        `GET ${EIO}?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${fields}\r\n`,
      );
      assert.deepStrictEqual(r.responses.map((x) => x.status), [400], r.raw.slice(0, 200));
      if (check) check(r.responses[0]);
    },
  };
}

// -- Engine.IO -----------------------------------------------------------------------------

const eioError = (code, message) => ({ code, message });
const BAD_REQUEST = eioError(3, "Bad request");
const UNKNOWN_SID = eioError(1, "Session ID unknown");

async function assertEioError(res, expected) {
  assert.strictEqual(res.status, 400, `status of ${res.body}`);
  assert.deepStrictEqual(JSON.parse(res.body), expected);
}

/**
 * A POST of `body` on a fresh polling session of the raw echo (Engine.IO v`eio`) must be
 * refused 400 "Bad request", and the session must be gone (the next GET: "Session ID
 * unknown").
 */
function payload(eio, name, body, { contentType } = {}) {
  return {
    cls: `Engine.IO v${eio}`,
    name,
    answer: '400 {"code":3,"message":"Bad request"}; session closed (next GET 400 code 1)',
    async run(server) {
      const q = await pollingSession(server, eio);
      const headers = contentType ? { "Content-Type": contentType } : {};
      await assertEioError(await h.request(q, { method: "POST", body, headers }), BAD_REQUEST);
      await assertEioError(await h.request(q), UNKNOWN_SID);
    },
  };
}

/** A polling session on the raw echo; returns its request URL (its OPEN read). */
async function pollingSession(server, eio = 4) {
  const res = await h.request(`${server.url}${EIO}?EIO=${eio}&transport=polling`);
  assert.strictEqual(res.status, 200, res.body);
  const open = JSON.parse(res.body.slice(res.body.indexOf("{"), res.body.lastIndexOf("}") + 1));
  return `${server.url}${EIO}?EIO=${eio}&transport=polling&sid=${encodeURIComponent(open.sid)}`;
}

/** A GET on `query` must be refused 400 with `expected`. */
function refused(name, query, expected, opts = {}) {
  return {
    cls: "Engine.IO",
    name,
    answer: `400 ${JSON.stringify(expected)}`,
    async run(server) {
      const q = typeof query === "function" ? await query(server) : `${server.url}${query}`;
      await assertEioError(await h.request(q, opts), expected);
    },
  };
}

/** A text frame on an open raw-echo WebSocket that ends the Engine.IO session (close 1000). */
function badFrame(name, data) {
  return {
    cls: "Engine.IO v4",
    name,
    answer: "the session ends: close 1000",
    async run(server) {
      const c = await wire.openEcho(server.port);
      c.socket.write(text(data));
      assert.strictEqual(wire.codeOf(await wire.closeFrame(c)), 1000);
    },
  };
}

const eioCases = [
  payload(4, "a payload with an empty record between separators", `4a${RS}${RS}4b`),
  payload(4, "a payload ending in a separator", `4a${RS}`),
  payload(4, "a payload with an unknown packet type", `4a${RS}9x`),
  payload(4, "an empty payload", ""),
  payload(4, "a 'b' record that is not base64", "b!!!!"),
  payload(4, "a 'b' record whose length is not a multiple of 4", "bAQI"),
  payload(4, "a 'b' record with '=' inside", "bA=BC"),
  badFrame("a text frame with an unknown packet type", "9x"),
  badFrame("an empty text frame", ""),
  payload(3, "a v3 length longer than the data (10:4hello)", "10:4hello"),
  payload(3, "a v3 length shorter than the data (3:4hello)", "3:4hello"),
  payload(3, "a v3 length of 11 digits", "12345678901:4x"),
  payload(3, "a v3 length of 0", "0:"),
  payload(3, "a v3 length without a colon", "6"),
  payload(3, "a v3 length counting bytes, not UTF-16 units (2:4😀)", "2:4😀"),
  payload(3, "a v3 'b4' record that is not base64", "6:b4!!!!"),
  payload(3, "a v3 binary payload with a type byte of 2", Buffer.from([2, 2, 255, 0x34, 0x61]), {
    contentType: "application/octet-stream",
  }),
  {
    cls: "Engine.IO v3",
    name: "a v3 length in UTF-16 units (3:4😀, control)",
    answer: "200 ok, the message echoed",
    async run(server) {
      const q = await pollingSession(server, 3);
      const post = await h.request(q, { method: "POST", body: "3:4😀" });
      assert.strictEqual(post.status, 200, post.body);
      const got = await h.request(q);
      assert.strictEqual(got.body, "3:4😀");
    },
  },
  refused("an unknown sid (polling)", "/socket.io/?EIO=4&transport=polling&sid=nope", UNKNOWN_SID),
  refused("an unknown sid (POST)", "/socket.io/?EIO=4&transport=polling&sid=nope", UNKNOWN_SID, { method: "POST", body: "40" }),
  {
    cls: "Engine.IO",
    name: "a WebSocket upgrade with an unknown sid",
    answer: `400 ${JSON.stringify(UNKNOWN_SID)} instead of 101`,
    async run(server) {
      const r = await rawHttp(
        server.port,
        "GET /socket.io/?EIO=4&transport=websocket&sid=nope HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
      );
      assert.deepStrictEqual(r.responses.map((x) => x.status), [400], r.raw.slice(0, 200));
      assert.deepStrictEqual(JSON.parse(r.responses[0].body), UNKNOWN_SID);
    },
  },
  refused("EIO=5", "/socket.io/?EIO=5&transport=polling", eioError(5, "Unsupported protocol version")),
  refused("EIO=abc", "/socket.io/?EIO=abc&transport=polling", eioError(5, "Unsupported protocol version")),
  refused("no EIO", "/socket.io/?transport=polling", eioError(5, "Unsupported protocol version")),
  refused("transport=foo", "/socket.io/?EIO=4&transport=foo", eioError(0, "Transport unknown")),
  refused("transport=websocket without an Upgrade", "/socket.io/?EIO=4&transport=websocket", BAD_REQUEST),
  refused("a WebSocket session's sid with transport=polling", async (server) => {
    const c = await wire.rawUpgrade(server.port, wire.SIO_WS);
    const open = await c.frames.next();
    const sid = JSON.parse(open.payload.toString().slice(1)).sid;
    return `${server.url}/socket.io/?EIO=4&transport=polling&sid=${encodeURIComponent(sid)}`;
  }, BAD_REQUEST),
];

runMatrix("hostile input: WebSocket framing and Engine.IO", {
  start: () => wire.startWithSmallQuarantine(["--allow-eio3", "true", "--max-http-buffer-size", String(MAX_BODY)]),
  witness: {
    ping: async (socket) => assert.deepStrictEqual(await h.emitAck(socket, "message-with-ack", "alive"), ["alive"]),
  },
  cases: [...wsCases, ...eioCases],
});

module.exports = { cases: [...wsCases, ...eioCases] };

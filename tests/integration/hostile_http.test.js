// The malformed-input matrix, HTTP layer (issue 9): oversized and numerous headers, long
// URLs, bad methods, request smuggling shapes, lying Content-Length, bodies over the
// limit, 1-byte writes. Raw TCP, so the bytes are exactly these. The answers follow
// Node's http server (llhttp: malformed requests get 400 and the connection closes)
// and RFC 9110/9112 (431 for a head over 16 KB, 414 for a request line over it, 413 for a
// body over --max-http-buffer-size).
"use strict";

const assert = require("node:assert");
const chat = require("./chat_helpers");
const h = require("./helpers");
const { runMatrix, rawHttp } = require("./hostile_matrix");

const H = "Host: 127.0.0.1\r\n";
const CLOSE = "Connection: close\r\n";
const POLL = "/socket.io/?EIO=4&transport=polling";
const MAX_BODY = 1000000; // --max-http-buffer-size's default

const headers = (n) => Array.from({ length: n }, (_, i) => `X-${i}: 1\r\n`).join("");

/**
 * A case: `send` (a string, or a function of the server resolving to one) is written on a
 * fresh connection; the statuses answered must be `statuses`, and then the connection
 * must be closed by the server (`closed`, default true).
 */
function http(name, answer, send, statuses, { closed = true, bytewise = false, check } = {}) {
  return {
    cls: "HTTP",
    name,
    answer,
    async run(server) {
      const bytes = typeof send === "function" ? await send(server) : send;
      const r = await rawHttp(server.port, bytes, { bytewise });
      const got = r.responses.map((x) => x.status);
      assert.deepStrictEqual(got, statuses, `answered ${JSON.stringify(r.raw.slice(0, 300))}`);
      if (closed) assert.ok(r.closed, "the server closed the connection");
      if (check) check(r.responses);
    },
  };
}

const cases = [
  // -- sizes ----------------------------------------------------------------------------
  http("one 20 KB header", "431, closed", `GET /health HTTP/1.1\r\n${H}X-Big: ${"a".repeat(20000)}\r\n\r\n`, [431]),
  http("3,000 headers (27 KB)", "431, closed", `GET /health HTTP/1.1\r\n${H}${headers(3000)}\r\n`, [431]),
  http("1,000 headers (11 KB, under the 16 KB head limit)", "200", `GET /health HTTP/1.1\r\n${H}${headers(1000)}${CLOSE}\r\n`, [200]),
  http("a 20 KB URL", "414, closed", `GET /health?${"a".repeat(20000)} HTTP/1.1\r\n${H}\r\n`, [414]),
  http("an 8 KB URL (under the limit)", "200", `GET /health?${"a".repeat(8000)} HTTP/1.1\r\n${H}${CLOSE}\r\n`, [200]),
  // -- methods and versions ---------------------------------------------------------------
  http("a method that is not a token (G@T)", "400, closed", `G@T /health HTTP/1.1\r\n${H}\r\n`, [400]),
  http("PUT on the Engine.IO handshake", '400 {"code":2,"message":"Bad handshake method"}',
    `PUT ${POLL} HTTP/1.1\r\n${H}Content-Length: 0\r\n${CLOSE}\r\n`, [400], {
      check: ([r]) => assert.deepStrictEqual(JSON.parse(r.body), { code: 2, message: "Bad handshake method" }),
    }),
  http("the HTTP/2 preface", "400, closed", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", [400]),
  http("a TLS ClientHello", "400, closed", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + "\x00".repeat(40), [400]),
  http("version HTTP/1.x", "400, closed", `GET /health HTTP/1.x\r\n${H}\r\n`, [400]),
  http("HTTP/1.1 without Host", "400, closed", `GET /health HTTP/1.1\r\n${CLOSE}\r\n`, [400]),
  // -- smuggling shapes (RFC 9112 §6.1, §6.3): never two readings of one body --------------------
  http("Content-Length and Transfer-Encoding together", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, [400]),
  http("two different Content-Lengths", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde`, [400]),
  http("'Transfer-Encoding : chunked' (space before the colon)", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n`, [400]),
  http("Transfer-Encoding: xchunked", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`, [400]),
  http("Transfer-Encoding: chunked, identity (chunked not last)", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n`, [400]),
  // RFC 9112 §5.2 lets a server read a fold as a space: the body is then chunked, and no
  // second request is read out of it (Node answers 400 instead).
  http("Transfer-Encoding folded onto a second line (obs-fold)", "read as 'chunked': one 404, nothing read from the body",
    `POST /health HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n`, [404], { closed: false }),
  http("bare LF line ends", "400, closed", `GET /health HTTP/1.1\nHost: 127.0.0.1\n\n`, [400]),
  http("a space before a header's colon", "400, closed", `GET /health HTTP/1.1\r\n${H}X-A : b\r\n\r\n`, [400]),
  http("a NUL in a header value", "400, closed", `GET /health HTTP/1.1\r\n${H}X-A: a\0b\r\n\r\n`, [400]),
  // -- lying lengths and big bodies ---------------------------------------------------------
  http("Content-Length shorter than the body (a GET smuggled behind it)",
    '400 {"error":"Invalid JSON"} for the first 5 bytes, 400 for the rest, closed; the GET is never answered',
    `POST /api/conversations/c1/messages HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 5\r\n\r\n` +
      `{"senderId":"u1"}GET /health HTTP/1.1\r\n${H}\r\n`,
    [400, 400], { check: ([r]) => assert.deepStrictEqual(JSON.parse(r.body), { error: "Invalid JSON" }) }),
  {
    cls: "HTTP",
    name: "Content-Length longer than the body",
    answer: "no answer while the body is short; closed without one at the client's FIN",
    async run(server) {
      let early;
      const r = await rawHttp(
        server.port,
        `POST /api/conversations/c1/messages HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{}`,
        {
          then: async (socket) => {
            await h.delay(300);
            early = socket.bytesRead;
            socket.end();
          },
        },
      );
      assert.strictEqual(early, 0, "nothing answered for an incomplete body");
      assert.deepStrictEqual(r.responses, []);
      assert.ok(r.closed);
    },
  },
  http("a negative Content-Length", "400, closed", `POST /health HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, [400]),
  http("a Content-Length past 2^64", "400, closed", `POST /health HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\n\r\n`, [400]),
  http("Content-Length 2,000,000 (over max-http-buffer-size), no body sent", "413 at once, closed",
    `POST ${POLL}&sid=x HTTP/1.1\r\n${H}Content-Length: ${2 * MAX_BODY}\r\n\r\n`, [413]),
  http("a chunked polling body of 1.2 MB (over max-http-buffer-size)", "413, closed",
    `POST ${POLL}&sid=x HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n` +
      `ffff\r\n${"4".repeat(0xffff)}\r\n`.repeat(19) + "0\r\n\r\n", [413]),
  http("a chunk size of 2^72", "400, closed",
    `POST /health HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n`, [400]),
  http("a chunk size that is not hex", "400, closed", `POST /health HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n`, [400]),
  // -- 1-byte writes of valid requests ---------------------------------------------------------
  http("GET /health, one byte per write", "200 {status:\"ok\"}", `GET /health HTTP/1.1\r\n${H}${CLOSE}\r\n`, [200], {
    bytewise: true,
    check: ([r]) => assert.strictEqual(JSON.parse(r.body).status, "ok"),
  }),
  http("the polling handshake, one byte per write", "200 0{sid...}", `GET ${POLL} HTTP/1.1\r\n${H}${CLOSE}\r\n`, [200], {
    bytewise: true,
    check: ([r]) => assert.ok(h.parseOpen(r.body).sid),
  }),
];

runMatrix("hostile input: HTTP", {
  start: () => chat.startChat(),
  witness: {
    ping: async (socket) => assert.ok((await h.emitAck(socket, "ping"))[0].timestamp, "pong"),
  },
  cases,
});

module.exports = { cases };

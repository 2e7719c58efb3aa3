// Time and count limits of the HTTP front end, seen from raw TCP sockets: the time to
// send a request's headers (slowloris, --header-timeout), the idle time between
// keep-alive requests (--keep-alive-timeout), connections per client address and in
// total (--max-connections-per-address, --max-connections), the file-descriptor limit
// (refusals answered and logged once per interval while existing clients are served),
// and counts that stay exact over every way a connection ends.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const net = require("node:net");
const harness = require("./harness");
const h = require("./helpers");

const sockets = new Set();
let server = null;

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await h.cleanup();
  if (server) await server.stop();
  server = null;
});

async function start(args, opts) {
  server = await harness.start(args, opts);
  return server;
}

/**
 * A raw TCP connection. conn.text() is everything received so far; conn.closed resolves
 * once the server closed (or reset) it.
 */
async function rawConnect(port) {
  const socket = net.connect(port, "127.0.0.1");
  sockets.add(socket);
  let received = Buffer.alloc(0);
  socket.on("data", (d) => {
    received = Buffer.concat([received, d]);
  });
  socket.on("error", () => {});
  const closed = new Promise((resolve) => socket.once("close", resolve));
  await h.withTimeout(new Promise((resolve) => socket.once("connect", resolve)), 3000, "tcp connect");
  return { socket, closed, text: () => received.toString("latin1") };
}

const GET_HEALTH = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/** Sends a keep-alive GET /health on conn and waits for its whole answer. */
async function getHealth(conn) {
  const before = conn.text().length;
  conn.socket.write(GET_HEALTH);
  await h.waitFor(() => /\r\n\r\n\{.*\}$/s.test(conn.text().slice(before)), 3000, "GET /health answer");
  return conn.text().slice(before);
}

/** The status code of the first answer on conn once it came (rejects when none does). */
async function statusOf(conn, timeoutMs = 3000) {
  await h.waitFor(() => /^HTTP\/1\.1 \d{3} /.test(conn.text()), timeoutMs, "an HTTP status line");
  return Number(conn.text().slice(9, 12));
}

/** n connections, each admitted (its GET /health answered 200) and kept open. */
async function admittedConnections(port, n) {
  const conns = [];
  for (let i = 0; i < n; i++) {
    const conn = await rawConnect(port);
    assert.match(await getHealth(conn), /^HTTP\/1\.1 200 /);
    conns.push(conn);
  }
  return conns;
}

/** Waits until a new connection is admitted again (places are given back asynchronously). */
function admitsAgain(port, what) {
  return h.waitFor(
    async () => {
      const conn = await rawConnect(port);
      conn.socket.write(GET_HEALTH);
      return (await statusOf(conn).catch(() => 0)) === 200;
    },
    5000,
    what,
  );
}

/** Lines of the server's log that report refusals for `cause`. */
function refusalLines(cause) {
  return server
    .stderr()
    .split("\n")
    .filter((l) => /refused \d+ connections?/.test(l) && l.includes(cause));
}

/** The connections these lines count. */
function refusedIn(lines) {
  return lines.reduce((n, l) => n + Number(/refused (\d+)/.exec(l)[1]), 0);
}

describe("header-timeout (slowloris)", () => {
  it("answers 408 and closes when the headers come one byte a second", { timeout: 30000 }, async () => {
    const srv = await start(["--header-timeout", "2500"]);
    const conn = await rawConnect(srv.port);
    const started = Date.now();
    let stop = false;
    const dribble = (async () => {
      const request = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a".repeat(100);
      for (const ch of request) {
        if (stop || conn.socket.destroyed) return;
        conn.socket.write(ch);
        await h.delay(1000);
      }
    })();
    await h.withTimeout(conn.closed, 10000, "the server to close the dribbling connection");
    stop = true;
    await dribble;
    assert.match(conn.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(conn.text(), /\r\nConnection: close\r\n/i);
    // Not before the limit: a client within it is served (next test).
    assert.ok(Date.now() - started >= 2400, `closed after ${Date.now() - started} ms`);
  });

  it("serves a slow client that finishes its headers in time, then times the next request", { timeout: 30000 }, async () => {
    const srv = await start(["--header-timeout", "2500", "--keep-alive-timeout", "60000"]);
    const conn = await rawConnect(srv.port);
    for (const ch of GET_HEALTH) {
      conn.socket.write(ch);
      await h.delay(30); // ~1.3 s in all
    }
    await h.waitFor(() => conn.text().includes('"status":"ok"'), 3000, "the slow request's answer");
    assert.match(conn.text(), /^HTTP\/1\.1 200 /);
    // The next keep-alive request: its time runs from its first byte, not from the first
    // request's (which would have passed by now).
    await h.delay(1500);
    const answered = conn.text().length;
    conn.socket.write("GET /health HTTP/1.1\r\n");
    const started = Date.now();
    await h.withTimeout(conn.closed, 10000, "the server to close the unfinished second request");
    assert.match(conn.text().slice(answered), /^HTTP\/1\.1 408 /);
    assert.ok(Date.now() - started >= 2400, `closed after ${Date.now() - started} ms`);
  });

  it("answers 408 to a connection that sends nothing", { timeout: 20000 }, async () => {
    const srv = await start(["--header-timeout", "1000"]);
    const conn = await rawConnect(srv.port);
    await h.withTimeout(conn.closed, 8000, "the server to close the silent connection");
    assert.match(conn.text(), /^HTTP\/1\.1 408 /);
  });
});

describe("keep-alive-timeout", () => {
  it("closes an idle keep-alive connection without an answer", { timeout: 20000 }, async () => {
    const srv = await start(["--keep-alive-timeout", "1000", "--header-timeout", "60000"]);
    const conn = await rawConnect(srv.port);
    const answer = await getHealth(conn);
    assert.match(answer, /^HTTP\/1\.1 200 /);
    const started = Date.now();
    await h.withTimeout(conn.closed, 8000, "the server to close the idle connection");
    assert.ok(Date.now() - started >= 900, `closed after ${Date.now() - started} ms`);
    assert.strictEqual(conn.text(), answer, "nothing after the answer (no 408 for a request never sent)");
  });
});

describe("max-connections-per-address", () => {
  it("answers 429 past the cap, logs once per interval, and admits again after a close", { timeout: 30000 }, async () => {
    const srv = await start(["--max-connections-per-address", "3", "--header-timeout", "60000"]);
    const held = await admittedConnections(srv.port, 3);
    const refused = [];
    for (let i = 0; i < 6; i++) {
      const conn = await rawConnect(srv.port);
      assert.strictEqual(await statusOf(conn), 429);
      await h.withTimeout(conn.closed, 3000, "the refused connection to close");
      refused.push(conn);
    }
    assert.match(refused[0].text(), /\r\nConnection: close\r\n/);
    // The held ones are still served.
    assert.match(await getHealth(held[0]), /^HTTP\/1\.1 200 /);
    // Six refusals, one line (the first, at once; the rest wait for the interval's end).
    const lines = refusalLines("over max-connections-per-address (3)");
    assert.strictEqual(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /refused 1 connection: over max-connections-per-address \(3\) \(last from 127\.0\.0\.1\)/);
    // A close frees its place.
    held[2].socket.end();
    await held[2].closed;
    await admitsAgain(srv.port, "a new connection admitted after a close");
  });
});

describe("max-connections", () => {
  it("answers 503 past the cap and admits again after a close", { timeout: 30000 }, async () => {
    const srv = await start(["--max-connections", "4", "--header-timeout", "60000"]);
    const ws = await h.connect(srv.url, { transports: ["websocket"] });
    const held = await admittedConnections(srv.port, 3);
    const conn = await rawConnect(srv.port);
    assert.strictEqual(await statusOf(conn), 503);
    assert.match(conn.text(), /Too many connections$/);
    // The socket.io client holding the fourth place is still served.
    assert.deepStrictEqual(await h.emitAck(ws, "message-with-ack", "still here"), ["still here"]);
    const lines = refusalLines("over max-connections (4)");
    assert.strictEqual(lines.length, 1, lines.join("\n"));
    ws.disconnect();
    await admitsAgain(srv.port, "a new connection admitted after the socket.io client left");
  });

  it("defaults to the open-file limit less a reserve", { timeout: 30000 }, async () => {
    // 64 descriptors: the default cap is half of them (too few for a 64-descriptor reserve).
    const srv = await start(["--header-timeout", "60000"], { maxOpenFiles: 64 });
    await admittedConnections(srv.port, 32);
    const over = await rawConnect(srv.port);
    assert.strictEqual(await statusOf(over), 503);
    assert.strictEqual(refusalLines("over max-connections (32)").length, 1);
  });
});

describe("counts stay exact", () => {
  it("every way a connection ends gives its place back", { timeout: 60000 }, async () => {
    const srv = await start([
      "--max-connections-per-address", "6",
      "--header-timeout", "800",
      "--keep-alive-timeout", "800",
      "--max-http-buffer-size", "1000",
    ]);
    // WebSocket clients that leave, and ones the server closes.
    for (let i = 0; i < 8; i++) {
      const s = await h.connect(srv.url, { transports: ["websocket"] });
      if (i % 2) {
        s.disconnect();
      } else {
        const gone = h.once(s, "disconnect", 5000);
        s.emit("close-transport");
        await gone;
      }
    }
    // Polling clients (several requests each), one upgraded.
    for (const transports of [["polling"], ["polling"], ["polling", "websocket"]]) {
      const s = await h.connect(srv.url, { transports });
      assert.deepStrictEqual(await h.emitAck(s, "message-with-ack", 1), [1]);
      s.disconnect();
      s.io.engine && s.io.engine.close();
    }
    const ends = [];
    // Header timeout (408), keep-alive timeout, a request that is not HTTP, a body over
    // the limit (413), Connection: close, a reset mid-headers, a WebSocket protocol error.
    ends.push((await rawConnect(srv.port)).closed);
    const idle = await rawConnect(srv.port);
    await getHealth(idle);
    ends.push(idle.closed);
    const sent = async (bytes) => {
      const conn = await rawConnect(srv.port);
      conn.socket.write(bytes);
      ends.push(conn.closed);
      return conn;
    };
    await sent("NOT HTTP AT ALL\r\n\r\n");
    const big = await sent("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    await sent("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const reset = await rawConnect(srv.port);
    reset.socket.write("GET /health HTTP/1.1\r\nHo");
    await h.delay(100);
    reset.socket.resetAndDestroy();
    const ws = await rawConnect(srv.port);
    ws.socket.write(
      "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString("base64")}\r\n` +
        "Sec-WebSocket-Version: 13\r\n\r\n",
    );
    await h.waitFor(() => ws.text().includes("\r\n\r\n"), 3000, "the upgrade");
    ws.socket.write(Buffer.from([0x81, 0x01, 0x41])); // unmasked: a protocol error
    ends.push(ws.closed);
    await h.withTimeout(Promise.all(ends), 15000, "every raw connection to end");
    assert.match(big.text(), /^HTTP\/1\.1 413 /);
    // All places are free again: six at once are admitted, the seventh is not.
    let full = [];
    await h.waitFor(
      async () => {
        for (const c of full) c.socket.destroy();
        full = [];
        for (let i = 0; i < 6; i++) {
          const c = await rawConnect(srv.port);
          c.socket.write(GET_HEALTH);
          full.push(c);
        }
        const statuses = await Promise.all(full.map((c) => statusOf(c, 2000).catch(() => 0)));
        return statuses.every((s) => s === 200);
      },
      10000,
      "six connections admitted once the others ended",
    );
    const seventh = await rawConnect(srv.port);
    assert.strictEqual(await statusOf(seventh), 429);
  });
});

describe("at the file-descriptor limit", () => {
  it("keeps serving, answers and logs the refusals once per interval, and recovers", { timeout: 60000 }, async () => {
    const srv = await start(["--max-connections", "100000", "--header-timeout", "60000"], { maxOpenFiles: 64 });
    const healthy = await h.connect(srv.url, { transports: ["websocket"] });
    // Open connections until the server runs out of descriptors.
    const held = [];
    const refused = [];
    for (let i = 0; i < 100 && refused.length === 0; i++) {
      const conn = await rawConnect(srv.port);
      const status = await statusOf(conn, 300).catch(() => 0);
      (status === 503 ? refused : held).push(conn);
    }
    assert.ok(refused.length === 1, `refused ${refused.length} of ${held.length + refused.length}`);
    assert.match(refused[0].text(), /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    // More refusals within the interval: answered, counted, not logged one by one.
    for (let i = 0; i < 20; i++) {
      const conn = await rawConnect(srv.port);
      assert.strictEqual(await statusOf(conn), 503);
      refused.push(conn);
    }
    // The client connected before is served all along.
    assert.deepStrictEqual(await h.emitAck(healthy, "message-with-ack", "still here"), ["still here"]);
    let lines = refusalLines("too many open files");
    assert.strictEqual(lines.length, 1, lines.join("\n"));
    assert.match(lines[0], /refused 1 connection: too many open files$/);
    // At the interval's end, one line for the rest.
    await h.waitFor(() => refusalLines("too many open files").length === 2, 15000, "the interval's line");
    lines = refusalLines("too many open files");
    assert.match(lines[1], /refused \d+ connections in the last 10 s: too many open files$/);
    assert.strictEqual(refusedIn(lines), refused.length);
    // Closing some lets new clients in again.
    for (const conn of held.splice(0, 10)) conn.socket.destroy();
    await h.waitFor(
      async () => {
        const s = h.client(srv.url, { transports: ["websocket"] });
        try {
          await h.connected(s, 2000);
          return true;
        } catch (_) {
          s.disconnect();
          return false;
        }
      },
      10000,
      "a new socket.io client to connect",
    );
    assert.deepStrictEqual(await h.emitAck(healthy, "message-with-ack", 2), [2]);
  });
});

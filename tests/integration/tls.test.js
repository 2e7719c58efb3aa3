// TLS on the listening port (`--tls-cert FILE --tls-key FILE`), against the echo fixture
// (docs/echo-fixture.md), with self-signed certificates for 127.0.0.1 made by openssl
// (setup.sh --test) in a temp dir:
//
//   a) socket.io-client 4 trusting the certificate through `ca` (verification on): wss only,
//      https polling only, polling then the upgrade; acks, 200 KB and binary payloads; a
//      client without the `ca` refused with a certificate error; /health over https;
//      a polling answer gzipped over https
//   b) `--per-message-deflate true`: a 100 KB compressible string over wss
//   c) SIGHUP: the certificate a new connection sees (fingerprint) replaced by the files'
//      new pair, a client connected before served on; garbage in the file: the failure line,
//      the previous certificate still served
//   d) plain HTTP to the TLS port: 400 `This port speaks TLS ...`, the connection closed
//   e) a TCP connection that never completes a handshake closed within --header-timeout
//   f) start-up: cert without key, a key of another certificate, a missing file (exit 2,
//      one line); --check-config with good files (exit 0)
//
// Needs CHAT_SERVER (the reference fixture has no TLS); under REFERENCE=1 it registers nothing.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert/strict");
const { spawnSync, execFileSync } = require("node:child_process");
const crypto = require("node:crypto");
const fs = require("node:fs");
const https = require("node:https");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const tls = require("node:tls");
const zlib = require("node:zlib");
const harness = require("./harness");
const h = require("./helpers");

const HOST = "127.0.0.1";
const T = { timeout: 30000 };
const WAIT_MS = 5000;
const RELOADED_RE = /SIGHUP: tls-cert and tls-key reloaded; new connections use them/g;
const RELOAD_FAILED_RE = /SIGHUP: .*the previous certificate stays in use/g;
const PLAIN_BODY = "This port speaks TLS: use https:// or wss://\n";

// -- certificates -------------------------------------------------------------------------

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "chat-tls-"));
process.on("exit", () => fs.rmSync(tmp, { recursive: true, force: true }));

/** A fresh self-signed pair for 127.0.0.1: {cert, key} (PEM strings), {fingerprint256}. */
function makePair(name) {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", keyFile, "-out", certFile],
    { stdio: ["ignore", "ignore", "pipe"], timeout: 20000 },
  );
  const cert = fs.readFileSync(certFile, "utf8");
  const key = fs.readFileSync(keyFile, "utf8");
  return { certFile, keyFile, cert, key, fingerprint256: new crypto.X509Certificate(cert).fingerprint256 };
}

/** Copies pair's PEMs to fresh files the server may be pointed at (and that a test may overwrite). */
function filesOf(pair, name) {
  const dir = fs.mkdtempSync(path.join(tmp, `${name}-`));
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  fs.writeFileSync(certFile, pair.cert);
  fs.writeFileSync(keyFile, pair.key);
  return { certFile, keyFile };
}

// -- helpers ------------------------------------------------------------------------------

function tlsArgs(files) {
  return ["--tls-cert", files.certFile, "--tls-key", files.keyFile];
}

/** Runs the binary to its exit (bounded): {status, stdout, stderr}. */
function runServer(args) {
  const r = spawnSync(process.env.CHAT_SERVER, args, { encoding: "utf8", timeout: 10000, killSignal: "SIGKILL" });
  assert.equal(r.error, undefined, `spawn: ${r.error}`);
  return r;
}

/** A raw TLS connection: resolves with the certificate the server presented (verified against ca). */
function peerCert(port, ca) {
  return new Promise((resolve, reject) => {
    const sock = tls.connect({ host: HOST, port, ca });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`no TLS handshake within ${WAIT_MS} ms`));
    }, WAIT_MS);
    sock.once("secureConnect", () => {
      clearTimeout(timer);
      const cert = sock.getPeerCertificate();
      const protocol = sock.getProtocol();
      sock.destroy();
      resolve({ cert, protocol, authorized: sock.authorized });
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    });
  });
}

/** GET over https with ca (own connection): {status, headers, body(Buffer)}. */
function httpsGet(url, ca, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ca, headers, agent: false }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`timed out: GET ${url}`)));
    req.on("error", reject);
  });
}

/** POST over https with ca: {status, body(string)}. */
function httpsPost(url, ca, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      { method: "POST", ca, agent: false, headers: { "Content-Type": "text/plain;charset=UTF-8" } },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`timed out: POST ${url}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Raw TCP: writes `send` (if any), collects everything until the server ends the connection. */
function tcpExchange(port, send, timeoutMs = WAIT_MS) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: HOST, port });
    const chunks = [];
    const t0 = Date.now();
    let connectedAt = null;
    let gotEnd = false;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`server kept the connection open past ${timeoutMs} ms; received ${Buffer.concat(chunks).length} bytes`));
    }, timeoutMs);
    sock.on("connect", () => {
      connectedAt = Date.now();
      if (send) sock.write(send);
    });
    sock.on("data", (c) => chunks.push(c));
    sock.on("end", () => {
      gotEnd = true;
    });
    sock.on("error", () => {}); // a reset after the answer still counts as closed
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ data: Buffer.concat(chunks), gotEnd, elapsed: Date.now() - (connectedAt || t0) });
    });
  });
}

/** Waits until re has matched server's stderr more than `before` times. */
async function waitLog(server, re, before, what) {
  await h.waitFor(() => (server.stderr().match(re) || []).length > before, WAIT_MS, what);
}

function countLog(server, re) {
  return (server.stderr().match(re) || []).length;
}

function bigText(n) {
  let s = "";
  for (let i = 0; s.length < n; i++) s += `line ${i}: the quick brown fox jumps over the lazy dog. `;
  return s.slice(0, n);
}

/**
 * What a connect_error says about its cause: the WebSocket transport keeps the TLS error in
 * err.description (ws's ErrorEvent: .error), the polling one (xmlhttprequest-ssl) in
 * err.context.statusText / responseText.
 */
function causeText(err) {
  const parts = [err.message];
  const d = err.description;
  if (d && typeof d === "object") parts.push(d.code, d.message, d.error && d.error.code, d.error && d.error.message);
  const c = err.context;
  if (c && typeof c === "object") parts.push(c.statusText && c.statusText.code, String(c.statusText || ""), String(c.responseText || ""));
  return parts.filter(Boolean).join(" | ");
}

const CERT_ERROR_RE = /DEPTH_ZERO_SELF_SIGNED_CERT|self[- ]signed certificate|unable to verify|CERT_/;

// -- tests ----------------------------------------------------------------------------------

describe("TLS (--tls-cert / --tls-key)", () => {
  if (harness.isReference()) return; // the reference fixture has no TLS
  if (!process.env.CHAT_SERVER) return;

  let pairA;
  let pairB;
  before(() => {
    pairA = makePair("a");
    pairB = makePair("b");
    assert.notEqual(pairA.fingerprint256, pairB.fingerprint256);
  });
  afterEach(() => h.cleanup());

  describe("socket.io-client 4 over https / wss", () => {
    let server;
    before(async () => {
      server = await harness.start(tlsArgs(filesOf(pairA, "sio")));
    });
    after(() => server && server.stop());

    it("the listening line and url say https", () => {
      assert.equal(server.url, `https://${HOST}:${server.port}`);
    });

    it("serves TLS 1.2+ with the configured certificate, verified against it", T, async () => {
      const { cert, protocol, authorized } = await peerCert(server.port, pairA.cert);
      assert.equal(authorized, true);
      assert.equal(cert.fingerprint256, pairA.fingerprint256);
      assert.ok(["TLSv1.2", "TLSv1.3"].includes(protocol), protocol);
    });

    it("TLS 1.1 and below refused", T, async () => {
      await assert.rejects(
        new Promise((resolve, reject) => {
          const sock = tls.connect({ host: HOST, port: server.port, ca: pairA.cert, maxVersion: "TLSv1.1", minVersion: "TLSv1" });
          const timer = setTimeout(() => {
            sock.destroy();
            reject(new Error("timeout"));
          }, WAIT_MS);
          sock.once("secureConnect", () => {
            clearTimeout(timer);
            sock.destroy();
            resolve(sock.getProtocol());
          });
          sock.once("error", (err) => {
            clearTimeout(timer);
            reject(err);
          });
        }),
        // The server's alert, not a local refusal.
        (err) => err.code === "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION",
      );
    });

    for (const [name, opts] of [
      ["websocket only (wss)", { transports: ["websocket"] }],
      ["polling only (https)", { transports: ["polling"] }],
    ]) {
      describe(name, () => {
        it("connects with ca, emits with ack, 200 KB and binary round trip", T, async () => {
          const s = h.client(server.url, { ...opts, ca: pairA.cert });
          const authP = h.once(s, "auth");
          await h.connected(s);
          assert.equal(s.io.engine.transport.name, opts.transports[0]);
          assert.deepEqual((await authP)[0], {});
          assert.deepEqual(await h.emitAck(s, "message-with-ack", "hello", 42, { a: [1, 2] }), ["hello", 42, { a: [1, 2] }]);

          const big = bigText(200 * 1024);
          const [bigBack] = await h.emitAck(s, "message-with-ack", big);
          assert.equal(bigBack.length, big.length);
          assert.ok(bigBack === big, "200 KB string came back intact");

          const bin = crypto.randomBytes(64 * 1024);
          const [binBack, label] = await h.emitAck(s, "message-with-ack", bin, "bin");
          assert.ok(h.isBinary(binBack));
          assert.ok(h.toBuffer(binBack).equals(bin));
          assert.equal(label, "bin");

          const backP = h.once(s, "message-back");
          s.emit("message", { nested: Buffer.from([0, 1, 2, 255]) }, "x");
          const back = await backP;
          assert.ok(h.toBuffer(back[0].nested).equals(Buffer.from([0, 1, 2, 255])));
          assert.equal(back[1], "x");
        });

        it("without the ca: refused with a certificate error", T, async () => {
          const err = await h.connectError(server.url, { ...opts });
          assert.match(causeText(err), CERT_ERROR_RE);
        });
      });
    }

    it("the ca of another certificate: refused", T, async () => {
      const err = await h.connectError(server.url, { transports: ["websocket"], ca: pairB.cert });
      assert.match(causeText(err), CERT_ERROR_RE);
    });

    it("polling then the upgrade to wss", T, async () => {
      const s = h.client(server.url, { ca: pairA.cert });
      // The Engine.IO session opens on polling (the upgrade may finish before 'connect').
      let openedOn = null;
      let upgradedTo = null;
      s.io.once("open", () => {
        openedOn = s.io.engine.transport.name;
        s.io.engine.once("upgrade", (t) => {
          upgradedTo = t.name;
        });
      });
      await h.connected(s);
      assert.equal(openedOn, "polling");
      await h.waitFor(() => s.io.engine.transport.name === "websocket", WAIT_MS, "upgrade to websocket");
      assert.equal(upgradedTo, "websocket");
      assert.deepEqual(await h.emitAck(s, "message-with-ack", "after upgrade"), ["after upgrade"]);
      const bin = crypto.randomBytes(1000);
      const [back] = await h.emitAck(s, "message-with-ack", bin);
      assert.ok(h.toBuffer(back).equals(bin));
    });

    it("GET /health over https: 200 JSON", T, async () => {
      const res = await httpsGet(`${server.url}/health`, pairA.cert);
      assert.equal(res.status, 200);
      assert.match(String(res.headers["content-type"]), /application\/json/);
      const body = JSON.parse(res.body.toString("utf8"));
      assert.equal(body.status, "ok");
      assert.equal(typeof body.uptime, "number");
      assert.equal(typeof body.connections, "number");
    });

    it("a polling answer is gzipped over https", T, async () => {
      const base = `${server.url}/socket.io/?EIO=4&transport=polling`;
      const open = h.parseOpen((await httpsGet(base, pairA.cert)).body.toString("utf8"));
      const url = `${base}&sid=${open.sid}`;
      assert.equal((await httpsPost(url, pairA.cert, "40")).status, 200);
      const connectAck = (await httpsGet(url, pairA.cert)).body.toString("utf8");
      assert.match(connectAck, /^40/);
      const text = bigText(20000);
      assert.equal((await httpsPost(url, pairA.cert, `421["message-with-ack",${JSON.stringify(text)}]`)).status, 200);
      const res = await httpsGet(url, pairA.cert, { "Accept-Encoding": "gzip" });
      assert.equal(res.status, 200);
      assert.equal(res.headers["content-encoding"], "gzip");
      assert.ok(res.body.length < text.length / 2, `compressed to ${res.body.length} bytes`);
      assert.equal(zlib.gunzipSync(res.body).toString("utf8"), `431[${JSON.stringify(text)}]`);
    });
  });

  describe("--per-message-deflate true over wss", () => {
    let server;
    before(async () => {
      server = await harness.start([...tlsArgs(filesOf(pairA, "pmd")), "--per-message-deflate", "true"]);
    });
    after(() => server && server.stop());

    it("a 100 KB compressible string round trips", T, async () => {
      const s = await h.connect(server.url, { transports: ["websocket"], ca: pairA.cert });
      const ws = s.io.engine.transport.ws;
      assert.match(String(ws && ws.extensions), /permessage-deflate/, "the extension was negotiated");
      const text = bigText(100 * 1024);
      const [back] = await h.emitAck(s, "message-with-ack", text);
      assert.ok(back === text, "100 KB string came back intact");
      const backP = h.once(s, "message-back");
      s.emit("message", text, "again");
      const [b2, tag] = await backP;
      assert.ok(b2 === text);
      assert.equal(tag, "again");
    });
  });

  describe("SIGHUP reloads the certificate files", () => {
    let server;
    let files;
    before(async () => {
      files = filesOf(pairA, "reload");
      server = await harness.start(tlsArgs(files));
    });
    after(() => server && server.stop());

    it("new connections get the new pair, old ones go on; a bad file keeps the previous", T, async () => {
      assert.equal((await peerCert(server.port, pairA.cert)).cert.fingerprint256, pairA.fingerprint256);
      const early = await h.connect(server.url, { transports: ["websocket"], ca: pairA.cert });
      const polling = await h.connect(server.url, { transports: ["polling"], ca: pairA.cert });

      // Replace both files with the second pair, then SIGHUP.
      fs.writeFileSync(files.keyFile, pairB.key);
      fs.writeFileSync(files.certFile, pairB.cert);
      const okBefore = countLog(server, RELOADED_RE);
      process.kill(server.proc.pid, "SIGHUP");
      await waitLog(server, RELOADED_RE, okBefore, "the SIGHUP reloaded line");
      assert.equal(server.exited(), false);

      const after1 = await peerCert(server.port, pairB.cert);
      assert.equal(after1.cert.fingerprint256, pairB.fingerprint256);
      await assert.rejects(peerCert(server.port, pairA.cert), CERT_ERROR_RE);

      // The client connected before the reload is served on its connection.
      assert.equal(early.connected, true);
      assert.equal(early.io.engine.transport.name, "websocket");
      assert.deepEqual(await h.emitAck(early, "message-with-ack", "after reload"), ["after reload"]);
      // A polling client opens new TLS connections: those need the new certificate, so
      // only check that a fresh client trusting the new one works.
      const fresh = await h.connect(server.url, { transports: ["websocket"], ca: pairB.cert });
      assert.deepEqual(await h.emitAck(fresh, "message-with-ack", "fresh"), ["fresh"]);
      polling.disconnect();

      // Garbage in the cert file: the reload fails, the second pair stays in use.
      fs.writeFileSync(files.certFile, "this is not a certificate\n");
      const failBefore = countLog(server, RELOAD_FAILED_RE);
      const okBefore2 = countLog(server, RELOADED_RE);
      process.kill(server.proc.pid, "SIGHUP");
      await waitLog(server, RELOAD_FAILED_RE, failBefore, "the SIGHUP failure line");
      const failLine = server.stderr().split("\n").filter((l) => /SIGHUP: /.test(l)).pop();
      assert.match(failLine, /tls-cert/, `the failure names the file: ${failLine}`);
      assert.equal(countLog(server, RELOADED_RE), okBefore2, "no reloaded line for the bad file");
      assert.equal(server.exited(), false);

      const after2 = await peerCert(server.port, pairB.cert);
      assert.equal(after2.cert.fingerprint256, pairB.fingerprint256);
      assert.deepEqual(await h.emitAck(early, "message-with-ack", "after failed reload"), ["after failed reload"]);
      assert.deepEqual(await h.emitAck(fresh, "message-with-ack", "still"), ["still"]);

      // A certificate whose key is not in the key file (pair A's cert, pair B's key): refused too.
      fs.writeFileSync(files.certFile, pairA.cert);
      const failBefore2 = countLog(server, RELOAD_FAILED_RE);
      process.kill(server.proc.pid, "SIGHUP");
      await waitLog(server, RELOAD_FAILED_RE, failBefore2, "the SIGHUP failure line (mismatched key)");
      const failLine2 = server.stderr().split("\n").filter((l) => /SIGHUP: /.test(l)).pop();
      assert.match(failLine2, /tls-key/, failLine2);
      assert.equal((await peerCert(server.port, pairB.cert)).cert.fingerprint256, pairB.fingerprint256);
    });
  });

  describe("connections that do not speak TLS", () => {
    let server;
    before(async () => {
      server = await harness.start([...tlsArgs(filesOf(pairA, "plain")), "--header-timeout", "500"]);
    });
    after(() => server && server.stop());

    it("plain HTTP: 400 'This port speaks TLS', the connection closed", T, async () => {
      const { data, gotEnd } = await tcpExchange(server.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      const text = data.toString("latin1");
      assert.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/, text);
      const sep = text.indexOf("\r\n\r\n");
      assert.ok(sep > 0, text);
      const head = text.slice(0, sep);
      const body = text.slice(sep + 4);
      assert.equal(body, PLAIN_BODY);
      const cl = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      if (cl) assert.equal(Number(cl[1]), Buffer.byteLength(PLAIN_BODY));
      assert.ok(gotEnd, "the server ended the connection");
      // The server serves on.
      assert.equal((await httpsGet(`${server.url}/health`, pairA.cert)).status, 200);
    });

    it("a TCP connection that sends nothing is closed within header-timeout", T, async () => {
      const { data, elapsed } = await tcpExchange(server.port, null, 4000);
      assert.ok(elapsed >= 300, `closed after ${elapsed} ms, before header-timeout`);
      assert.ok(elapsed < 2500, `closed after ${elapsed} ms`);
      assert.ok(data.length < 64, `no HTTP answer in plaintext to a silent client: ${data.toString("latin1")}`);
    });

    it("a TLS handshake stalled after part of a ClientHello is closed within header-timeout", T, async () => {
      // A TLS record header announcing a 512-byte handshake record, and only 5 bytes of it.
      const partial = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03]);
      const { elapsed } = await tcpExchange(server.port, partial, 4000);
      assert.ok(elapsed < 2500, `closed after ${elapsed} ms`);
      assert.equal((await httpsGet(`${server.url}/health`, pairA.cert)).status, 200);
    });

    it("a TLS client that completes the handshake but sends no request: 408 over TLS, closed", T, async () => {
      let received = "";
      const elapsed = await new Promise((resolve, reject) => {
        const sock = tls.connect({ host: HOST, port: server.port, ca: pairA.cert });
        let t0 = null;
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error("kept open past 4000 ms"));
        }, 4000);
        sock.once("secureConnect", () => {
          t0 = Date.now();
        });
        sock.on("data", (d) => {
          received += d.toString("latin1");
        });
        sock.on("error", () => {});
        sock.once("close", () => {
          clearTimeout(timer);
          resolve(Date.now() - (t0 || Date.now()));
        });
      });
      assert.ok(elapsed >= 300 && elapsed < 2500, `closed after ${elapsed} ms`);
      assert.match(received, /^HTTP\/1\.1 408 /);
    });
  });

  describe("start-up", () => {
    it("--tls-cert without --tls-key: exit 2, one line", T, () => {
      const files = filesOf(pairA, "only-cert");
      for (const args of [["--tls-cert", files.certFile], ["--tls-key", files.keyFile]]) {
        const r = runServer(["--app", "echo", "--host", HOST, "--port", "0", ...args]);
        assert.equal(r.status, 2, r.stderr);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], /tls-cert and tls-key go together/);
        assert.doesNotMatch(r.stdout, /listening on/);
      }
    });

    it("a key that is not the certificate's: exit 2 naming tls-key", T, () => {
      const r = runServer(["--app", "echo", "--host", HOST, "--port", "0",
        "--tls-cert", pairA.certFile, "--tls-key", pairB.keyFile]);
      assert.equal(r.status, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], /tls-key/);
      assert.ok(lines[0].includes(pairB.keyFile), lines[0]);
    });

    it("a missing file: exit 2 naming it", T, () => {
      const missing = path.join(tmp, "no-such-dir", "cert.pem");
      const r = runServer(["--app", "echo", "--host", HOST, "--port", "0", "--tls-cert", missing, "--tls-key", pairA.keyFile]);
      assert.equal(r.status, 2, r.stderr);
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0].includes(missing), lines[0]);
      const r2 = runServer(["--app", "echo", "--host", HOST, "--port", "0", "--tls-cert", pairA.certFile, "--tls-key", missing]);
      assert.equal(r2.status, 2, r2.stderr);
      assert.ok(r2.stderr.trim().includes(missing), r2.stderr);
    });

    it("a file that is not PEM: exit 2 naming it", T, () => {
      const bad = path.join(tmp, "garbage.pem");
      fs.writeFileSync(bad, "garbage\n");
      const r = runServer(["--app", "echo", "--host", HOST, "--port", "0", "--tls-cert", bad, "--tls-key", pairA.keyFile]);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.ok(r.stderr.includes(bad), r.stderr);
    });

    it("--check-config with good TLS files: exit 0; with a mismatched key: exit 2", T, () => {
      const ok = runServer(["--check-config", "--app", "echo", "--tls-cert", pairA.certFile, "--tls-key", pairA.keyFile]);
      assert.equal(ok.status, 0, ok.stderr);
      const bad = runServer(["--check-config", "--app", "echo", "--tls-cert", pairA.certFile, "--tls-key", pairB.keyFile]);
      assert.equal(bad.status, 2, bad.stderr);
      assert.match(bad.stderr, /tls-key/);
    });
  });
});

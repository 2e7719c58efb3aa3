// Compression in a real browser: Debian's headless Chromium (driven by npm playwright-core,
// which downloads no browser) always offers permessage-deflate and accepts gzip. A page on
// the server's origin (its /health document with socket.io-client 4's bundle added by
// playwright, since the echo fixture serves no page and no /socket.io/socket.io.js)
// connects to `chat-server --app echo --per-message-deflate true`:
//   - over WebSocket only: the 101 (read through the DevTools protocol) carries the
//     extension; a 100 KB string, a small string and a 50 KB binary come back intact;
//   - over long-polling only: a 100 KB echo comes back intact, its GET answered gzip.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const fs = require("node:fs");
const path = require("node:path");
const harness = require("./harness");
const { launchChromium } = require("./browser");

// The package's exports hide dist/: found from its main entry instead.
const BUNDLE = path.join(path.dirname(require.resolve("socket.io-client/package.json")), "dist", "socket.io.min.js");
const WAIT_MS = 10000;
const TEST_TIMEOUT = { timeout: 60000 };

// In the page: connects with transports, echoes each of the args' values through `message`,
// and reports what came back (binary as byte arrays' lengths and a checksum).
const PAGE_SCRIPT = `
  function bigText(n) {
    let s = "";
    for (let i = 0; s.length < n; i++) s += "line " + i + ": the quick brown fox jumps over the lazy dog. ";
    return s.slice(0, n);
  }
  function bigBytes(n) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7 + (i >> 8)) & 0xff;
    return b;
  }
  function echo(socket, value) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no message-back")), 8000);
      socket.once("message-back", (v) => { clearTimeout(timer); resolve(v); });
      socket.emit("message", value);
    });
  }
  window.run = async function (url, transports) {
    const socket = io(url, { transports, reconnection: false, forceNew: true, timeout: 8000 });
    await new Promise((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("connect_error", reject);
    });
    const big = bigText(100000);
    const bytes = bigBytes(50000);
    const bigBack = await echo(socket, big);
    const smallBack = await echo(socket, "small ✓");
    const binBack = new Uint8Array(await echo(socket, bytes));
    let binSame = binBack.length === bytes.length;
    for (let i = 0; binSame && i < bytes.length; i++) binSame = binBack[i] === bytes[i];
    const transport = socket.io.engine.transport.name;
    socket.disconnect();
    return { bigSame: bigBack === big, bigLength: bigBack.length, smallBack, binSame, binLength: binBack.length, transport };
  };
`;

if (!harness.isReference()) {
  let server;
  let browser;

  before(async () => {
    browser = await launchChromium();
    server = await harness.start(["--per-message-deflate", "true"]);
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    if (server) await server.stop();
  });

  /**
   * A fresh page on the server's origin (its /health document: a page served from
   * elsewhere would be refused the loopback by Chromium's local network access checks)
   * with socket.io-client's bundle and the test's functions added; its errors collected.
   */
  async function openPage() {
    const context = await browser.newContext();
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    const errors = [];
    page.on("pageerror", (err) => errors.push(err.message));
    const res = await page.goto(`${server.url}/health`);
    assert.equal(res.status(), 200);
    await page.addScriptTag({ content: fs.readFileSync(BUNDLE, "utf8") });
    await page.addScriptTag({ content: PAGE_SCRIPT });
    await page.waitForFunction(() => typeof window.io === "function" && typeof window.run === "function");
    return { context, page, errors };
  }

  function header(headers, name) {
    const key = Object.keys(headers || {}).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : headers[key];
  }

  function expectEchoes(r, transport) {
    assert.equal(r.transport, transport);
    assert.equal(r.bigLength, 100000);
    assert.equal(r.bigSame, true, "the 100 KB string came back intact");
    assert.equal(r.smallBack, "small ✓");
    assert.equal(r.binLength, 50000);
    assert.equal(r.binSame, true, "the 50 KB binary came back intact");
  }

  test("Chromium over WebSocket only: permessage-deflate negotiated, big and small echoes intact", TEST_TIMEOUT, async () => {
    const { context, page, errors } = await openPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.enable");
    const offers = [];
    const answers = [];
    cdp.on("Network.webSocketWillSendHandshakeRequest", (e) => offers.push(header(e.request.headers, "sec-websocket-extensions")));
    cdp.on("Network.webSocketHandshakeResponseReceived", (e) => {
      answers.push({ status: e.response.status, ext: header(e.response.headers, "sec-websocket-extensions") });
    });

    const r = await page.evaluate(async (url) => window.run(url, ["websocket"]), server.url);
    expectEchoes(r, "websocket");
    assert.equal(answers.length, 1, "one WebSocket handshake");
    assert.match(String(offers[0]), /permessage-deflate/, `Chromium offered ${offers[0]}`);
    assert.equal(answers[0].status, 101);
    const params = String(answers[0].ext)
      .split(";")
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    assert.deepEqual(
      [params[0], params.slice(1).sort()],
      ["permessage-deflate", ["client_no_context_takeover", "server_no_context_takeover"]],
      `Sec-WebSocket-Extensions: ${answers[0].ext}`,
    );
    assert.deepEqual(errors, [], "no script errors on the page");
    await context.close();
  });

  test("Chromium over long-polling only: the big echo intact, its answer gzipped", TEST_TIMEOUT, async () => {
    const { context, page, errors } = await openPage();
    const polls = [];
    page.on("response", (res) => {
      const req = res.request();
      if (req.method() === "GET" && req.url().startsWith(`${server.url}/socket.io/`) && req.url().includes("sid=")) {
        polls.push(
          Promise.all([res.allHeaders(), req.allHeaders(), res.body().catch(() => Buffer.alloc(0))]).then(([rh, qh, body]) => ({
            encoding: rh["content-encoding"],
            vary: rh.vary,
            accept: qh["accept-encoding"],
            length: body.length,
          })),
        );
      }
    });

    const r = await page.evaluate(async (url) => window.run(url, ["polling"]), server.url);
    expectEchoes(r, "polling");
    const seen = await Promise.all(polls);
    const big = seen.filter((p) => p.length >= 100000);
    assert.ok(big.length >= 1, `a GET carried the 100 KB echo: ${JSON.stringify(seen)}`);
    for (const p of big) {
      assert.match(String(p.accept), /gzip/, `Chromium's Accept-Encoding: ${p.accept}`);
      assert.equal(p.encoding, "gzip", JSON.stringify(p));
      assert.match(String(p.vary), /accept-encoding/i);
    }
    const small = seen.filter((p) => p.length < 1024);
    assert.ok(small.length >= 1, "a small GET answer too (the CONNECT)");
    for (const p of small) assert.equal(p.encoding, undefined, `a small answer is plain: ${JSON.stringify(p)}`);
    assert.deepEqual(errors, [], "no script errors on the page");
    await context.close();
  });
}

// chat-server's configuration sources: config file, CHAT_* environment and flags, flags
// winning over the environment, which wins over the file; --help lists the settings.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const net = require("node:net");
const { execFileSync, spawnSync } = require("node:child_process");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 20000 };

/**
 * Runs chat-server with args (and extra environment) to its exit, bounded; returns
 * {status, stdout, stderr, ms}. For the runs that must not start a server.
 */
function runServer(args, env = {}, timeoutMs = 5000) {
  const t0 = Date.now();
  const r = spawnSync(process.env.CHAT_SERVER, args, {
    encoding: "utf8",
    timeout: timeoutMs,
    env: { ...process.env, ...env },
  });
  const ms = Date.now() - t0;
  assert.ok(!r.error, `chat-server ${args.join(" ")}: ${r.error && r.error.message} (did it start a server?)`);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms };
}

/** The non-empty lines of text. */
function lines(text) {
  return text.split("\n").filter((l) => l.length > 0);
}

/** Asserts that args (with env) are refused: exit 2, ONE stderr line matching message. */
function assertRefused(args, message, env = {}) {
  const r = runServer(args, env);
  const what = `${Object.entries(env).map(([k, v]) => `${k}=${v} `).join("")}chat-server ${args.join(" ")}`;
  assert.strictEqual(r.status, 2, `${what}: exit ${r.status}\n${r.stdout}${r.stderr}`);
  const err = lines(r.stderr);
  assert.strictEqual(err.length, 1, `${what}: stderr is not one line:\n${r.stderr}`);
  assert.match(err[0], message, what);
  assert.ok(!r.stderr.includes("--max-http-buffer-size"), `${what}: printed the help text:\n${r.stderr}`);
  assert.ok(!r.stdout.includes("listening on"), `${what}: started a server`);
  return r;
}

describe("configuration", () => {
  afterEach(() => h.cleanup());

  it("--help lists every setting", TEST_TIMEOUT, () => {
    if (harness.isReference()) return; // the reference fixture has no such CLI
    const out = execFileSync(process.env.CHAT_SERVER, ["--help"], { encoding: "utf8", timeout: 5000 });
    for (const name of ["--port", "--host", "--path", "--ping-interval", "--ping-timeout", "--connect-timeout",
      "--max-http-buffer-size", "--max-queue-bytes", "--cors-origin", "--cors-credentials", "--io-threads",
      "--actor-threads", "--config"]) {
      assert.ok(out.includes(name), `--help lacks ${name}`);
    }
  });

  it("file < environment < flags", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return; // the reference fixture takes flags only
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-config-"));
    const file = path.join(dir, "chat.conf");
    fs.writeFileSync(file, "ping-interval = 11111\nping-timeout = 22222\nmax-http-buffer-size = 33333\n");
    process.env.CHAT_PING_TIMEOUT = "4444";
    process.env.CHAT_MAX_HTTP_BUFFER_SIZE = "5555";
    let server;
    try {
      server = await harness.start(["--config", file, "--max-http-buffer-size", "6666"]);
      const open = await h.pollingHandshake(server.url);
      assert.strictEqual(open.pingInterval, 11111); // file only
      assert.strictEqual(open.pingTimeout, 4444); // environment over file
      assert.strictEqual(open.maxPayload, 6666); // flag over environment and file
    } finally {
      delete process.env.CHAT_PING_TIMEOUT;
      delete process.env.CHAT_MAX_HTTP_BUFFER_SIZE;
      if (server) await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad setting is refused with a message and exit code 2", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    let err;
    try {
      execFileSync(process.env.CHAT_SERVER, ["--port", "notaport"], { encoding: "utf8", timeout: 5000, stdio: "pipe" });
    } catch (e) {
      err = e;
    }
    assert.ok(err, "chat-server accepted --port notaport");
    assert.strictEqual(err.status, 2);
    assert.match(err.stderr, /port/);
  });

  it("store: an unknown store, or cluster without a cluster, is refused with exit code 2", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    for (const [args, message] of [
      [["--store", "postgres"], /store must be sqlite, cluster or a mongodb:\/\/ connection string/],
      [["--store", "cluster"], /store cluster needs cluster-listen/],
      [["--store", "mongodb://"], /store: bad connection string/],
      [["--store", "mongodb://127.0.0.1:27017/chat?w=0"], /store: w=0 is refused/],
    ]) {
      let err;
      try {
        execFileSync(process.env.CHAT_SERVER, args, { encoding: "utf8", timeout: 5000, stdio: "pipe" });
      } catch (e) {
        err = e;
      }
      assert.ok(err, `chat-server accepted ${args.join(" ")}`);
      assert.strictEqual(err.status, 2);
      assert.match(err.stderr, message);
    }
  });

  it("--version prints chat-server X.Y.Z and exits 0", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    const r = runServer(["--version"]);
    assert.strictEqual(r.status, 0, r.stderr);
    assert.match(r.stdout, /^chat-server \d+\.\d+\.\d+\n$/);
    assert.strictEqual(r.stderr, "");
  });

  it("--check-config: 0 and 'configuration is valid' without starting a server; warnings; 2 when bad", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-config-"));
    try {
      const db = path.join(dir, "chat.db");
      // Valid: exits at once (a started server would hold the run until the timeout).
      const ok = runServer(["--check-config", "--app", "chat", "--db", db, "--port", "0"], {}, 3000);
      assert.strictEqual(ok.status, 0, `${ok.stdout}${ok.stderr}`);
      assert.ok(lines(ok.stdout).includes("configuration is valid"), `stdout:\n${ok.stdout}`);
      assert.ok(!ok.stdout.includes("listening on"), `started a server:\n${ok.stdout}`);
      assert.ok(!/^warning: /m.test(ok.stdout + ok.stderr), `warnings for a plain configuration:\n${ok.stdout}${ok.stderr}`);
      assert.ok(ok.ms < 3000, `took ${ok.ms} ms`);

      // Risky but valid: still 0, with a warning line naming each risk.
      const risky = runServer(
        ["--check-config", "--app", "chat", "--db", db, "--cluster-listen", "0.0.0.0:1", "--admin-token", "short",
          "--admin-listen", "127.0.0.1:1"],
        {},
        3000,
      );
      assert.strictEqual(risky.status, 0, `${risky.stdout}${risky.stderr}`);
      const out = risky.stdout + risky.stderr;
      assert.ok(lines(risky.stdout).includes("configuration is valid"), `stdout:\n${risky.stdout}`);
      const warnings = lines(out).filter((l) => l.startsWith("warning: "));
      assert.ok(warnings.some((l) => l.includes("cluster-secret")), `no warning naming cluster-secret:\n${out}`);
      assert.ok(warnings.some((l) => l.includes("admin-token")), `no warning naming admin-token:\n${out}`);
      assert.ok(!out.includes("listening on"), `started a server:\n${out}`);

      // Bad: 2, and not 'valid'.
      for (const args of [["--ping-interval", "abc"], ["--log-format", "xml"], ["--admin-listen", "127.0.0.1:1"]]) {
        const bad = runServer(["--check-config", "--app", "chat", "--db", db, ...args], {}, 3000);
        assert.strictEqual(bad.status, 2, `--check-config ${args.join(" ")}: exit ${bad.status}\n${bad.stdout}${bad.stderr}`);
        assert.ok(!bad.stdout.includes("configuration is valid"), `--check-config ${args.join(" ")}:\n${bad.stdout}`);
        assert.ok(bad.stderr.length > 0, `--check-config ${args.join(" ")}: nothing on stderr`);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a bad setting prints one line naming that setting, not the help", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    assertRefused(["--ping-interval", "abc"], /ping-interval/);
  });

  it("negative numbers and values out of range or of the wrong kind are refused (exit 2, one line)", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    assertRefused(["--ping-interval=-5"], /ping-interval/);
    assertRefused(["--max-queue-bytes=-1"], /max-queue-bytes/);
    assertRefused([], /max-connections/, { CHAT_MAX_CONNECTIONS: "-3" });
    assertRefused(["--log-level", "verbose"], /log-level/);
    assertRefused(["--log-format", "xml"], /log-format/);
    assertRefused(["--io-threads", "5000"], /io-threads/);
    assertRefused(["--app", "nope"], /app/);
    assertRefused(["--admin-listen", "127.0.0.1:4100"], /admin-token/);
    assertRefused(["--ping-interval", "0"], /ping-interval/);
  });

  it("--log-format json: every line a JSON object; debug lines per connect, event, disconnect", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return;
    const server = await harness.start(["--log-format", "json", "--log-level", "debug"], { app: "chat" });
    let stopped = false;
    try {
      const socket = await h.connect(server.url, { transports: ["websocket"] });
      await h.emitAck(socket, "join-room", "log-room");
      const sid = socket.id;
      socket.disconnect();
      // The disconnect line is written once the server saw it.
      await h.waitFor(() => server.stderr().includes("disconnect nsp=/"), 3000, "the disconnect log line");
      await server.stop();
      stopped = true;
      const text = server.stderr();
      assert.ok(text.endsWith("\n"), "the log does not end with a full line");
      const entries = lines(text).map((line) => {
        let obj;
        try {
          obj = JSON.parse(line);
        } catch (e) {
          assert.fail(`not JSON: ${line}`);
        }
        assert.ok(obj && typeof obj === "object" && !Array.isArray(obj), `not an object: ${line}`);
        for (const k of ["time", "level", "msg"]) assert.strictEqual(typeof obj[k], "string", `${k} is not a string: ${line}`);
        assert.ok(!Number.isNaN(Date.parse(obj.time)), `time is not a date: ${line}`);
        return obj;
      });
      const msgs = entries.map((e) => e.msg);
      const connect = msgs.find((m) => m.startsWith("connect nsp=/") && m.includes(sid));
      assert.ok(connect, `no 'connect nsp=/' line for ${sid}:\n${text}`);
      const event = msgs.find((m) => m.startsWith("event nsp=/") && m.includes(sid));
      assert.ok(event, `no 'event nsp=/' line for ${sid}:\n${text}`);
      assert.match(event, /(^| )event=join-room( |$)/);
      const disconnect = msgs.find((m) => m.startsWith("disconnect nsp=/") && m.includes(sid));
      assert.ok(disconnect, `no 'disconnect nsp=/' line for ${sid}:\n${text}`);
      for (const e of entries.filter((x) => x.msg === connect || x.msg === event || x.msg === disconnect)) {
        assert.strictEqual(e.level, "debug", JSON.stringify(e));
      }
    } finally {
      if (!stopped) await server.stop();
    }
  });

  it("store: an unreachable MongoDB stops the server (exit 1) without showing the URI's password", TEST_TIMEOUT, () => {
    if (harness.isReference()) return;
    let err;
    try {
      execFileSync(
        process.env.CHAT_SERVER,
        ["--port", "0", "--store", "mongodb://chat:s3cret@127.0.0.1:1/chat?serverSelectionTimeoutMS=300"],
        { encoding: "utf8", timeout: 10000, stdio: "pipe" },
      );
    } catch (e) {
      err = e;
    }
    assert.ok(err, "chat-server started without its database");
    assert.strictEqual(err.status, 1);
    assert.match(err.stderr, /cannot open the database mongodb:\/\/\*\*\*@127\.0\.0\.1:1\/chat/);
    assert.match(err.stderr, /does not answer/);
    assert.doesNotMatch(err.stderr, /s3cret/);
  });

  it("the startup summary: app, address and store on one info line", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return;
    const server = await harness.start([], { app: "chat" });
    try {
      await h.waitFor(() => server.stderr().includes("chat app on"), 3000, "the startup summary");
      const line = lines(server.stderr()).find((l) => /\[info\] chat-server /.test(l));
      assert.ok(line, `no info line starting 'chat-server ':\n${server.stderr()}`);
      const msg = line.slice(line.indexOf("[info] ") + "[info] ".length);
      assert.match(msg, /^chat-server \d+\.\d+\.\d+/);
      assert.ok(msg.includes(`chat app on 127.0.0.1:${server.port}`), msg);
      assert.ok(msg.includes(`store sqlite ${server.db}`), msg);
    } finally {
      await server.stop();
    }
  });

  it("HEAD /health: 200 and no body", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return;
    const server = await harness.start([], { app: "chat" });
    try {
      const res = await h.request(`${server.url}/health`, { method: "HEAD" });
      assert.strictEqual(res.status, 200);
      assert.strictEqual(res.raw.length, 0);
      // On the wire: nothing after the header block, even with the connection kept open
      // until the server closes it.
      const raw = await new Promise((resolve, reject) => {
        const sock = net.connect(server.port, "127.0.0.1");
        const chunks = [];
        const timer = setTimeout(() => {
          sock.destroy();
          resolve(Buffer.concat(chunks));
        }, 1000);
        sock.on("data", (d) => chunks.push(d));
        sock.on("end", () => {
          clearTimeout(timer);
          sock.destroy();
          resolve(Buffer.concat(chunks));
        });
        sock.on("error", (e) => {
          clearTimeout(timer);
          reject(e);
        });
        sock.write("HEAD /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      });
      const text = raw.toString("latin1");
      assert.match(text, /^HTTP\/1\.1 200 /);
      const end = text.indexOf("\r\n\r\n");
      assert.ok(end > 0, `no end of headers: ${JSON.stringify(text)}`);
      assert.strictEqual(text.slice(end + 4), "", `HEAD answered with a body: ${JSON.stringify(text)}`);
      // GET still answers with its body.
      const get = await h.request(`${server.url}/health`);
      assert.strictEqual(get.status, 200);
      assert.strictEqual(JSON.parse(get.body).status, "ok");
    } finally {
      await server.stop();
    }
  });
});

// chat-server's configuration sources: config file, CHAT_* environment and flags, flags
// winning over the environment, which wins over the file; --help lists the settings.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync } = require("node:child_process");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 20000 };

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
      [["--store", "postgres"], /store must be sqlite or cluster/],
      [["--store", "cluster"], /store cluster needs cluster-listen/],
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
});

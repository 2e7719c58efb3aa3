// `cmake --install` of the build under test into a temporary prefix: the files land under
// FHS paths, and the installed binary, run from there without settings, serves the web
// page, socket.io.js and the Admin UI page it finds under share/chat-server, and accepts
// the installed sample config.
"use strict";

const { describe, it, after } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { spawnSync } = require("node:child_process");
const harness = require("./harness");

if (harness.isReference()) return;

const ROOT = path.join(__dirname, "..", "..");
const T = { timeout: 90000 };
// The Admin UI's password "admin" (README): the page is served only with the UI on.
const ADMIN_HASH = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";

describe("cmake --install", () => {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), "chat-install-"));
  after(() => fs.rmSync(prefix, { recursive: true, force: true }));

  it("puts every file under the prefix's FHS paths", T, () => {
    const buildDir = path.dirname(process.env.CHAT_SERVER);
    const r = spawnSync("cmake", ["--install", buildDir, "--prefix", prefix], { encoding: "utf8", timeout: 60000 });
    assert.strictEqual(r.status, 0, `cmake --install failed:\n${r.stdout}\n${r.stderr}`);
    for (const f of [
      "bin/chat-server",
      "bin/chat-admin",
      "share/chat-server/web/index.html",
      "share/chat-server/web/app.js",
      "share/chat-server/socket.io.js",
      "share/chat-server/admin-ui/index.html",
      "share/chat-server/nginx/chat-server.conf",
      "etc/chat-server/chat-server.conf",
      "lib/systemd/system/chat-server.service",
    ])
      assert.ok(fs.existsSync(path.join(prefix, f)), `${f} not installed`);
    const mode = fs.statSync(path.join(prefix, "bin/chat-server")).mode;
    assert.ok(mode & 0o111, "bin/chat-server is not executable");
    assert.strictEqual(
      fs.readFileSync(path.join(prefix, "etc/chat-server/chat-server.conf"), "utf8"),
      fs.readFileSync(path.join(ROOT, "etc/chat-server.conf"), "utf8"),
    );
  });

  it("the installed binary finds its files under share/chat-server", T, async () => {
    const bin = path.join(prefix, "bin/chat-server");
    const help = spawnSync(bin, ["--help"], { encoding: "utf8", timeout: 10000 });
    assert.strictEqual(help.status, 0);
    assert.ok(help.stdout.includes(path.join(prefix, "share/chat-server/web")), help.stdout);
    assert.ok(!help.stdout.includes(path.join(ROOT, "apps")), "a default still points into the source tree");

    const check = spawnSync(bin, ["--check-config", "--config", path.join(prefix, "etc/chat-server/chat-server.conf")], {
      encoding: "utf8",
      timeout: 10000,
      cwd: prefix,
    });
    assert.strictEqual(check.status, 0, `--check-config of the installed config:\n${check.stderr}`);

    const srv = await harness.start(["--admin-ui", "true", "--admin-ui-password-hash", ADMIN_HASH], {
      app: "chat",
      bin,
    });
    try {
      const page = await fetch(`${srv.url}/`);
      assert.strictEqual(page.status, 200);
      assert.strictEqual(await page.text(), fs.readFileSync(path.join(prefix, "share/chat-server/web/index.html"), "utf8"));
      const bundle = await fetch(`${srv.url}/socket.io/socket.io.js`);
      assert.strictEqual(bundle.status, 200);
      assert.strictEqual(await bundle.text(), fs.readFileSync(path.join(prefix, "share/chat-server/socket.io.js"), "utf8"));
      const ui = await fetch(`${srv.url}/admin-ui/`);
      assert.strictEqual(ui.status, 200);
      // The page as installed, plus the script that presets this server's address.
      assert.strictEqual(
        (await ui.text()).replace('<script src="preset.js"></script>', ""),
        fs.readFileSync(path.join(prefix, "share/chat-server/admin-ui/index.html"), "utf8"),
      );
    } finally {
      await srv.stop();
    }
  });
});

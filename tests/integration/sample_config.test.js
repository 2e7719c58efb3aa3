// The sample configuration etc/chat-server.conf (installed as the production config) lists
// every setting `chat-server --help` knows, each with a one-line meaning, its default
// where it is commented out, and passes `chat-server --check-config`.
"use strict";

const { describe, it } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const { execFileSync, spawnSync } = require("node:child_process");
const harness = require("./harness");

// The reference fixture has no such command line.
if (harness.isReference()) return;

const CONF = path.join(__dirname, "..", "..", "etc", "chat-server.conf");
const T = { timeout: 20000 };

/** Map of every setting in `--help` (the "settings" section) to its default or null. */
function helpSettings() {
  const out = execFileSync(process.env.CHAT_SERVER, ["--help"], { encoding: "utf8", timeout: 5000 });
  const at = out.search(/^settings\b/m);
  assert.ok(at >= 0, `no "settings" section in --help:\n${out}`);
  const settings = new Map();
  const re = /^ {2}--([a-z0-9][a-z0-9-]*)(?: arg)?(?: \(=([^)]*)\))?/gm;
  let m;
  re.lastIndex = at;
  while ((m = re.exec(out))) settings.set(m[1], m[2] === undefined ? null : m[2]);
  assert.ok(settings.size >= 20, `only ${settings.size} settings found in --help:\n${out}`);
  return settings;
}

/** The file's `name = value` lines, commented out (`# name = value`) or not. */
function confEntries(text) {
  const lines = text.split("\n");
  const entries = [];
  lines.forEach((line, i) => {
    const m = /^(#\s*)?([a-z0-9][a-z0-9-]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) entries.push({ name: m[2], value: m[3], commented: !!m[1], line: i });
  });
  return { lines, entries };
}

/** --help prints booleans as 1 / 0; the file says true / false. */
function normal(value) {
  return { 1: "true", 0: "false" }[value] || value;
}

describe("etc/chat-server.conf", () => {
  it("lists every setting of --help, as `name =` or `# name =`, each under a meaning", T, (t) => {
    const settings = helpSettings();
    const { lines, entries } = confEntries(fs.readFileSync(CONF, "utf8"));
    const listed = new Set(entries.map((e) => e.name));
    const missing = [...settings.keys()].filter((name) => !listed.has(name));
    assert.deepStrictEqual(missing, [], `settings of --help missing from ${CONF}`);

    // Every entry (or a run of related entries) is preceded by a comment saying what it
    // means; a section header (`# -- ... --`) does not count.
    const entryLines = new Set(entries.map((e) => e.line));
    for (const e of entries) {
      let i = e.line - 1;
      while (i >= 0 && entryLines.has(i)) i--;
      const above = i >= 0 ? lines[i] : "";
      assert.ok(/^#\s*\S/.test(above) && !/^#\s*--/.test(above), `${e.name} (line ${e.line + 1}) has no meaning above it`);
    }

    // A commented-out line shows the default, where --help has one (paths that depend
    // on where the binary is installed excepted).
    for (const e of entries.filter((x) => x.commented && settings.get(x.name) != null)) {
      const def = settings.get(e.name);
      if (path.isAbsolute(def)) continue;
      assert.strictEqual(normal(e.value), normal(def), `# ${e.name} = ${e.value}: the default is ${def}`);
    }

    // Uncommented lines must be settings this binary knows (--check-config below would
    // refuse them too); commented ones it does not know yet are only reported.
    const unknown = entries.filter((e) => !settings.has(e.name));
    assert.deepStrictEqual(unknown.filter((e) => !e.commented).map((e) => e.name), [], "unknown settings set");
    const ahead = [...new Set(unknown.map((e) => e.name))];
    if (ahead.length) t.diagnostic(`commented out, not in this binary's --help: ${ahead.join(", ")}`);
  });

  it("passes chat-server --check-config", T, () => {
    // In an empty directory: the relative `db` must not matter (nothing is opened).
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-sample-config-"));
    try {
      const r = spawnSync(process.env.CHAT_SERVER, ["--check-config", "--config", CONF], {
        cwd: dir,
        encoding: "utf8",
        timeout: 5000,
      });
      assert.ok(!r.error, `chat-server --check-config: ${r.error && r.error.message}`);
      assert.strictEqual(r.status, 0, `exit ${r.status}\n${r.stdout}${r.stderr}`);
      assert.ok(r.stdout.split("\n").includes("configuration is valid"), `stdout:\n${r.stdout}`);
      assert.ok(!r.stdout.includes("listening on"), `started a server:\n${r.stdout}`);
      assert.deepStrictEqual(fs.readdirSync(dir), [], "--check-config created files");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

// Drives chat-admin (CHAT_ADMIN) against a server started with --admin-listen.
"use strict";

const { execFile, spawn } = require("node:child_process");
const { freePort } = require("./cluster_helpers");
const h = require("./helpers");

const TOKEN = "console-test-token-0123456789";

/** The flags that publish a server's console on a free port: {port, args}. */
async function consoleArgs(token = TOKEN) {
  const port = await freePort();
  return { port, args: ["--admin-token", token, "--admin-listen", `127.0.0.1:${port}`] };
}

/** Runs chat-admin once: {code, stdout, stderr}. `input` goes to its standard input. */
function admin(port, args, { token = TOKEN, input, timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const child = execFile(
      process.env.CHAT_ADMIN,
      ["--connect", `127.0.0.1:${port}`, "--token", token, ...args],
      { encoding: "utf8", timeout: timeoutMs },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** `-c COMMAND --json`, expected to succeed: its JSON answer. */
async function json(port, command, opts = {}) {
  const r = await admin(port, ["--json", "-c", command], opts);
  if (r.code !== 0) throw new Error(`chat-admin -c '${command}': ${r.code} ${r.stdout} ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Waits until the console port answers (it is published just after the listening line). */
async function ready(port) {
  await h.waitFor(async () => (await admin(port, ["-c", "nodes"], { timeoutMs: 5000 })).code === 0, 10000, "console ready");
}

/**
 * Starts `chat-admin -c tail ... --json`; lines() gives the activity items so far;
 * stop() sends SIGINT and resolves with the exit code.
 */
function tail(port, extra = []) {
  const child = spawn(process.env.CHAT_ADMIN, ["--connect", `127.0.0.1:${port}`, "--token", TOKEN, "--json", "-c", ["tail", ...extra].join(" ")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (d) => (out += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  return {
    lines: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .filter((x) => x.kind),
    started: () => out.includes('"tail":true'),
    async stop() {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
}

module.exports = { TOKEN, consoleArgs, admin, json, ready, tail };

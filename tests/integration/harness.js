// Starts the server under test (docs/echo-fixture.md) and stops it.
//
//   REFERENCE=1            -> node tests/integration/reference-echo.js (reference socket.io)
//   CHAT_SERVER=/abs/path  -> that chat-server binary, with `--app echo`
//
// start(extraArgs, opts) resolves to {url, port, proc, stop(), stderr()} once the server printed
// `listening on http://127.0.0.1:PORT` (`https://` with --tls-cert/--tls-key: url then
// has that scheme); stop() sends SIGTERM, waits (bounded), then
// SIGKILL. Every started process is also killed when the test process exits.
//
// opts.host (default 127.0.0.1) is the address it listens on (another loopback address,
// 127.0.0.2 ..., for tests that need nodes on distinct addresses).
//
// opts.app (default 'echo') picks `--app`; with app 'chat' the server also gets
// `--db <fresh temp dir>/chat.db` unless opts.db names a store to reuse (a restart
// test passes the first server's `db`). Temp dirs are removed when the process exits.
// With CHAT_TEST_MONGO_URI set (tests/support/with_congo.sh: the ctest entries
// integration_mongo.*), the chat app's store is a fresh MongoDB database on that server
// instead, `--store mongodb://.../<name>_<n>`, and `db` is that URI.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");
const fs = require("node:fs");
const os = require("node:os");

const START_TIMEOUT_MS = 10000;
const STOP_TIMEOUT_MS = 3000;
const SETPRIV = "/usr/bin/setpriv";
const PRLIMIT = "/usr/bin/prlimit";
const DEFAULT_HOST = "127.0.0.1";

/** The server's `listening on http://HOST:PORT` (or https://, with --tls-cert) line for host. */
function listeningRe(host) {
  const escaped = host.replace(/[.*+?^$()|[\]{}\\]/g, "\\$&");
  return new RegExp("^listening on (https?)://" + escaped + ":(\\d+)\\s*$");
}

const running = new Set();
const tempDirs = new Set();
process.on("exit", () => {
  for (const dir of tempDirs) {
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (_) {
      /* best effort */
    }
  }
  for (const proc of running) {
    try {
      proc.kill("SIGKILL");
    } catch (_) {
      /* already gone */
    }
  }
});

function serverCommand() {
  if (process.env.REFERENCE === "1") {
    return {
      cmd: process.execPath,
      args: [path.join(__dirname, "reference-echo.js")],
      name: "reference-echo.js",
    };
  }
  const bin = process.env.CHAT_SERVER;
  if (!bin) {
    throw new Error(
      "set CHAT_SERVER=/absolute/path/to/chat-server (or REFERENCE=1 for the reference server)",
    );
  }
  if (!path.isAbsolute(bin)) throw new Error(`CHAT_SERVER must be absolute: ${bin}`);
  if (!fs.existsSync(bin)) throw new Error(`CHAT_SERVER does not exist: ${bin}`);
  return { cmd: bin, args: [], name: path.basename(bin) };
}

const SANITIZER_RE = /WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error: /;

function isReference() {
  return process.env.REFERENCE === "1";
}

/**
 * Starts the server. extraArgs e.g. ['--ping-interval', '300'];
 * opts {app: 'echo' | 'chat', host: the address to listen on (default 127.0.0.1), db: path of the chat store to use, corsOrigins: the
 * --cors-origin list (default ['*']), maxOpenFiles: the server's open-file limit, bin: another chat-server binary
 * (absolute path; e.g. an installed copy)}.
 */
let storesMade = 0;

/** A new store for a chat server: a SQLite file in a fresh temp dir, or a MongoDB database. */
function freshStore() {
  const mongo = process.env.CHAT_TEST_MONGO_URI;
  if (mongo) {
    const at = mongo.indexOf("?") < 0 ? mongo.length : mongo.indexOf("?");
    return `${mongo.slice(0, at)}_${process.pid}_${++storesMade}${mongo.slice(at)}`;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-db-"));
  tempDirs.add(dir);
  return path.join(dir, "chat.db");
}

async function start(extraArgs = [], opts = {}) {
  const app = opts.app || "echo";
  const host = opts.host || DEFAULT_HOST;
  if (host !== DEFAULT_HOST && isReference()) throw new Error(`the reference fixture listens on ${DEFAULT_HOST} only`);
  if (app !== "echo" && isReference()) throw new Error(`the reference fixture has no --app ${app}`);
  const { cmd, args, name } = opts.bin ? { cmd: opts.bin, args: [], name: path.basename(opts.bin) } : serverCommand();
  let db = opts.db;
  if (app === "chat" && !db) db = freshStore();
  const appArgs = !db ? ["--app", app] : db.startsWith("mongodb://") ? ["--app", app, "--store", db] : ["--app", app, "--db", db];
  // The echo fixture mirrors the reference's defaults, which refuse Engine.IO v3.
  if (app === "echo" && !isReference() && !extraArgs.includes("--allow-eio3")) appArgs.push("--allow-eio3", "false");
  const cors = (opts.corsOrigins || ["*"]).flatMap((o) => ["--cors-origin", o]);
  let fullArgs = [...args, ...appArgs, "--host", host, "--port", "0", ...cors, ...extraArgs];
  let exe = cmd;
  // opts.maxOpenFiles: the server's open-file limit (soft and hard), set by prlimit.
  if (opts.maxOpenFiles) {
    fullArgs = [`--nofile=${opts.maxOpenFiles}:${opts.maxOpenFiles}`, "--", exe, ...fullArgs];
    exe = PRLIMIT;
  }
  // setpriv (util-linux) execs the server with "kill me when my parent dies", so a
  // server cannot outlive a test process that was itself killed.
  if (fs.existsSync(SETPRIV)) {
    fullArgs = ["--pdeathsig", "KILL", "--", exe, ...fullArgs];
    exe = SETPRIV;
  }
  const proc = spawn(exe, fullArgs, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(proc);

  let exited = false;
  const exitPromise = new Promise((resolve) => {
    proc.once("exit", (code, signal) => {
      exited = true;
      running.delete(proc);
      resolve({ code, signal });
    });
  });

  let stderr = "";
  // A sanitizer build reports to stderr; any report fails the test that stops the server.
  let sanitizerReport = null;
  proc.stderr.setEncoding("utf8");
  proc.stderr.on("data", (d) => {
    const m = SANITIZER_RE.exec(d);
    if (m && !sanitizerReport) sanitizerReport = d.slice(m.index, m.index + 4000);
    stderr += d;
    if (stderr.length > 20000) stderr = stderr.slice(-20000);
    if (process.env.SERVER_LOG) process.stderr.write(`[${name}] ${d}`);
  });

  function checkSanitizer() {
    if (sanitizerReport) throw new Error(`${name} reported a sanitizer error:\n${sanitizerReport}`);
  }

  async function stop() {
    const r = await stopProcess();
    checkSanitizer();
    return r;
  }

  async function stopProcess() {
    if (exited) return exitPromise;
    proc.kill("SIGTERM");
    let timer;
    const timedOut = new Promise((resolve) => {
      timer = setTimeout(() => resolve("timeout"), STOP_TIMEOUT_MS);
    });
    const r = await Promise.race([exitPromise, timedOut]);
    clearTimeout(timer);
    if (r === "timeout") {
      proc.kill("SIGKILL");
      return exitPromise;
    }
    return r;
  }

  return new Promise((resolve, reject) => {
    let stdoutBuf = "";
    const listening = listeningRe(host);
    let settled = false;
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      stopProcess().finally(() => reject(err));
    };
    const timer = setTimeout(
      () => fail(new Error(`${name}: no listening line within ${START_TIMEOUT_MS} ms\n${stderr}`)),
      START_TIMEOUT_MS,
    );
    proc.once("error", (err) => fail(err));
    proc.once("exit", (code, signal) =>
      fail(new Error(`${name} exited early (code ${code}, signal ${signal})\n${stderr}`)),
    );
    proc.stdout.setEncoding("utf8");
    proc.stdout.on("data", (d) => {
      if (process.env.SERVER_LOG) process.stderr.write(`[${name}] ${d}`);
      if (settled) return;
      stdoutBuf += d;
      const lines = stdoutBuf.split("\n");
      stdoutBuf = lines.pop();
      for (const line of lines) {
        const m = listening.exec(line);
        if (m) {
          settled = true;
          clearTimeout(timer);
          const scheme = m[1];
          const port = Number(m[2]);
          resolve({
            url: `${scheme}://${host}:${port}`,
            host,
            port,
            proc,
            db,
            stop,
            stderr: () => stderr,
            exited: () => exited,
          });
          return;
        }
      }
    });
  });
}

module.exports = { start, isReference };

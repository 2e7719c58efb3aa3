// A MongoDB-wire-compatible server for a test file that needs its own
// (tests/support/congo_server.mjs: @push.rocks/smartmongo's CongoServer, in memory).
//
//   const server = await startCongo();   // {port, uri(name), stop()}
//   server.uri("chat")                   // mongodb://127.0.0.1:PORT/chat
//
// The server stops with stop(), when this process exits, or when its stdin (a pipe
// from here) closes.
"use strict";

const { spawn } = require("node:child_process");
const path = require("node:path");

const START_TIMEOUT_MS = 15000;
const SCRIPT = path.join(__dirname, "..", "support", "congo_server.mjs");

function startCongo() {
  const proc = spawn(process.execPath, [SCRIPT, "0"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  proc.stderr.on("data", (d) => (stderr += d));
  const kill = () => proc.kill("SIGKILL");
  process.once("exit", kill);
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      kill();
      reject(new Error(`the Congo server did not start in ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    proc.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`the Congo server exited (${code}) before listening: ${stderr}`));
    });
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /^listening (\d+)$/m.exec(out);
      if (!m) return;
      clearTimeout(timer);
      const port = Number(m[1]);
      resolve({
        port,
        uri: (db) => `mongodb://127.0.0.1:${port}/${db}`,
        stderr: () => stderr,
        stop: () =>
          new Promise((done) => {
            if (proc.exitCode !== null) return done();
            proc.once("exit", () => done());
            proc.kill("SIGTERM");
            setTimeout(kill, 3000).unref();
          }),
      });
    });
  });
}

module.exports = { startCongo };

// A MongoDB-wire-compatible test server: CongoServer from @push.rocks/smartmongo (in-memory,
// no mongod binary). Used by tests/support/with_congo.sh.
//
//   node tests/support/congo_server.mjs PORT     (PORT 0 = pick a free port)
//
// Prints exactly one line, `listening <port>`, on stdout once it accepts connections, and
// nothing else on stdout (diagnostics go to stderr). Stops the server and exits when its
// stdin reaches end-of-file, on SIGTERM/SIGINT/SIGHUP, or when its parent process goes
// away, so it never outlives the process that started it. Data is kept in memory only.
import net from 'node:net';
// The package's main entry also loads mongodb-memory-server and @push.rocks/smartdata, which
// tests/package.json stubs out (see tests/support/unused-dep-stub): import only CongoDB.
import { CongoServer } from '@push.rocks/smartmongo/dist_ts/congodb/index.js';

const host = '127.0.0.1';
const arg = process.argv[2] ?? '0';
if (!/^\d+$/.test(arg) || Number(arg) > 65535) {
  process.stderr.write(`usage: node congo_server.mjs PORT (0 = any free port), got ${JSON.stringify(arg)}\n`);
  process.exit(2);
}
let port = Number(arg);

// Keep stdout for the one `listening` line: anything the library logs goes to stderr.
console.log = (...args) => console.error(...args);
console.info = console.log;

async function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const { port: p } = probe.address();
      probe.close(() => resolve(p));
    });
  });
}

let server = null;
let stopping = false;
async function shutdown(code, why) {
  if (stopping) return;
  stopping = true;
  if (why) process.stderr.write(`congo_server: ${why}, stopping\n`);
  // Never hang on the way out.
  setTimeout(() => process.exit(code), 2000).unref();
  try {
    if (server) await server.stop();
  } catch (e) {
    process.stderr.write(`congo_server: stop failed: ${e?.stack ?? e}\n`);
  }
  process.exit(code);
}

process.on('SIGTERM', () => shutdown(0, 'SIGTERM'));
process.on('SIGINT', () => shutdown(0, 'SIGINT'));
process.on('SIGHUP', () => shutdown(0, 'SIGHUP'));
process.stdin.on('end', () => shutdown(0, 'stdin closed'));
process.stdin.on('error', () => shutdown(0, 'stdin error'));
process.stdin.resume(); // read (and drop) stdin so that its end is seen
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) shutdown(0, 'parent process gone');
}, 1000).unref();

try {
  server = new CongoServer({ port, host, storage: 'memory' });
  await server.start();
  // CongoServer listens on port 0 fine but reports the configured port; ask the socket.
  const addr = server.server?.address?.();
  if (addr && typeof addr === 'object' && addr.port) {
    port = addr.port;
  } else if (port === 0) {
    // Fallback if the internals change: pick a free port and start again on it.
    await server.stop();
    port = await freePort();
    server = new CongoServer({ port, host, storage: 'memory' });
    await server.start();
  }
} catch (e) {
  process.stderr.write(`congo_server: cannot start on ${host}:${port}: ${e?.stack ?? e}\n`);
  process.exit(1);
}
if (!stopping) process.stdout.write(`listening ${port}\n`);

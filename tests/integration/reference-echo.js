#!/usr/bin/env node
// The echo fixture of docs/echo-fixture.md on the reference Node socket.io server.
//
//   node reference-echo.js [--app echo] [--host 127.0.0.1] --port 0
//        [--ping-interval MS] [--ping-timeout MS] [--connect-timeout MS]
//        [--max-http-buffer-size BYTES]
//
// Prints `listening on http://127.0.0.1:PORT` once listening. Every integration test
// can be run against it with REFERENCE=1.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");
const engine = require("engine.io");

function parseArgs(argv) {
  const opts = {
    app: "echo",
    host: "127.0.0.1",
    port: 0,
    pingInterval: 25000,
    pingTimeout: 20000,
    connectTimeout: 45000,
    maxHttpBufferSize: 1e6,
  };
  const numeric = {
    "--port": "port",
    "--ping-interval": "pingInterval",
    "--ping-timeout": "pingTimeout",
    "--connect-timeout": "connectTimeout",
    "--max-http-buffer-size": "maxHttpBufferSize",
  };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    } else {
      value = argv[i + 1];
      i++;
    }
    if (value === undefined) throw new Error(`missing value for ${arg}`);
    if (numeric[arg]) {
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0) throw new Error(`bad value for ${arg}: ${value}`);
      opts[numeric[arg]] = n;
    } else if (arg === "--host") {
      opts.host = value;
    } else if (arg === "--app") {
      opts.app = value;
    } else if (arg === "--cors-origin") {
      // The fixture always allows any origin (cors: {origin: "*"}).
    } else {
      throw new Error(`unknown option ${arg}`);
    }
  }
  if (opts.app !== "echo") throw new Error(`unknown app ${opts.app}`);
  return opts;
}

const opts = parseArgs(process.argv.slice(2));
const startedAt = Date.now();

// Requests that neither Socket.IO nor the raw Engine.IO endpoint claim end up here.
const httpServer = http.createServer((req, res) => {
  const path = req.url.split("?")[0];
  if (req.method === "GET" && path === "/health") {
    const body = JSON.stringify({
      status: "ok",
      uptime: (Date.now() - startedAt) / 1000,
      connections: io.engine.clientsCount + eio.clientsCount,
    });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(body);
    return;
  }
  res.writeHead(404, { "Content-Type": "text/plain" });
  res.end("not found");
});

const io = new Server(httpServer, {
  path: "/socket.io/",
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  connectTimeout: opts.connectTimeout,
  maxHttpBufferSize: opts.maxHttpBufferSize,
  cors: { origin: "*" },
});

// Raw Engine.IO echo (no Socket.IO on top).
const eio = engine.attach(httpServer, {
  path: "/engine.io/",
  pingInterval: opts.pingInterval,
  pingTimeout: opts.pingTimeout,
  maxHttpBufferSize: opts.maxHttpBufferSize,
  cors: { origin: "*" },
});
eio.on("connection", (socket) => {
  socket.on("message", (data) => socket.send(data));
});

function splitAck(args) {
  if (args.length && typeof args[args.length - 1] === "function") {
    return { args: args.slice(0, -1), ack: args[args.length - 1] };
  }
  return { args, ack: null };
}

function echoHandlers(socket) {
  const nsp = socket.nsp;
  socket.emit("auth", socket.handshake.auth || {});

  socket.on("message", (...args) => {
    socket.emit("message-back", ...args);
  });

  socket.on("message-with-ack", (...raw) => {
    const { args, ack } = splitAck(raw);
    if (ack) ack(...args);
  });

  socket.on("join", (...raw) => {
    const { args, ack } = splitAck(raw);
    const room = args[0];
    socket.join(room);
    if (ack) ack(room);
  });

  socket.on("leave", (...raw) => {
    const { args, ack } = splitAck(raw);
    const room = args[0];
    socket.leave(room);
    if (ack) ack(room);
  });

  socket.on("broadcast", (...raw) => {
    const { args, ack } = splitAck(raw);
    const spec = args[0] || {};
    let op = nsp;
    if (Array.isArray(spec.rooms) && spec.rooms.length) op = op.to(spec.rooms);
    if (Array.isArray(spec.except) && spec.except.length) op = op.except(spec.except);
    op.emit(spec.event, spec.data);
    if (ack) ack("ok");
  });

  socket.on("server-ack", (...raw) => {
    const { args } = splitAck(raw);
    const timeout = (args[0] && Number(args[0].timeout)) || 5000;
    socket.timeout(timeout).emit("ping-ack", "hello", (err, ...ackArgs) => {
      if (err) socket.emit("ack-result", { ok: false, error: "timeout" });
      else socket.emit("ack-result", { ok: true, args: ackArgs });
    });
  });

  socket.on("disconnect-me", () => {
    socket.disconnect();
  });

  socket.on("close-transport", () => {
    // Closes the whole Engine.IO connection, without a Socket.IO DISCONNECT packet.
    socket.conn.close();
  });

  socket.on("handshake", (...raw) => {
    const { ack } = splitAck(raw);
    if (!ack) return;
    ack({
      query: socket.handshake.query,
      headers: socket.handshake.headers,
      address: socket.handshake.address,
      auth: socket.handshake.auth || {},
    });
  });

  socket.on("rooms", (...raw) => {
    const { ack } = splitAck(raw);
    if (ack) ack(Array.from(socket.rooms));
  });
}

io.of("/").on("connection", echoHandlers);

const custom = io.of("/custom");
custom.use((socket, next) => {
  const auth = socket.handshake.auth || {};
  if (auth.reject === true) {
    const err = new Error("not authorized");
    err.data = { code: "E_REJECTED" };
    return next(err);
  }
  next();
});
custom.on("connection", echoHandlers);

io.of(/^\/dyn-[a-z0-9]+$/).on("connection", echoHandlers);

function shutdown() {
  io.close();
  eio.close();
  process.exit(0);
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);

httpServer.listen(opts.port, opts.host, () => {
  const { port } = httpServer.address();
  process.stdout.write(`listening on http://${opts.host}:${port}\n`);
});

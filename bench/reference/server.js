// The reference server of the benchmark: the npm socket.io 4.8 server with the same events,
// payloads and answers as chat-server's `/` namespace (docs/chat-protocol.md §1, §2) minus
// the store, so that both servers do the same work per message on the wire.
//   node server.js [--port N] [--host 127.0.0.1]
// Prints "listening on http://HOST:PORT" on stdout once it accepts connections.
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = arg("host", "127.0.0.1");
const port = Number(arg("port", "3002"));
const httpServer = http.createServer();
const io = new Server(httpServer, { cors: { origin: "*" } });

let total = 0;
let nextId = 1;
const iso = () => new Date().toISOString();
const ackIf = (ack, value) => typeof ack === "function" && ack(value);
const roomOf = (p) => (typeof p === "string" ? p : p && (p.conversationId ?? p.room));

io.on("connection", (socket) => {
  const connectedAt = Date.now();
  total++;
  io.emit("user-connected", { socketId: socket.id, connectedAt, totalConnected: total, timestamp: iso() });

  socket.on("send-message", (p, ack) => {
    if (!p || typeof p !== "object" || typeof p.sender !== "string" || typeof p.text !== "string") {
      const error = "Invalid payload: expected an object";
      socket.emit("error", { message: error });
      return ackIf(ack, { status: "error", error });
    }
    const id = nextId++;
    io.emit("receive-message", {
      socketId: socket.id,
      sender: p.sender,
      text: p.text,
      platform: p.platform,
      timestamp: iso(),
    });
    ackIf(ack, { status: "ok", id });
  });

  socket.on("joinRoom", (p, ack) => {
    const room = roomOf(p);
    if (!room) return ackIf(ack, { status: "error", error: "room is required" });
    socket.join(String(room));
    ackIf(ack, { status: "ok", room: String(room) });
  });

  socket.on("sendMessage", (p, ack) => {
    if (!p || !p.conversationId || !p.senderId || typeof p.content !== "string") {
      socket.emit("messageError", { error: "Missing required fields" });
      return ackIf(ack, { status: "error", error: "Missing required fields" });
    }
    const id = String(nextId++);
    const message = {
      id,
      _id: id,
      conversationId: String(p.conversationId),
      senderId: String(p.senderId),
      content: p.content,
      type: p.type || "text",
      createdAt: iso(),
      deleted: false,
      deliveredTo: [],
      readBy: [],
    };
    io.to(message.conversationId).emit("receiveMessage", { conversationId: message.conversationId, message });
    ackIf(ack, { status: "ok", id });
  });

  socket.on("ping", (_p, ack) => {
    const pong = { timestamp: iso() };
    socket.emit("pong", pong);
    ackIf(ack, pong);
  });

  socket.on("disconnect", () => {
    total--;
    socket.broadcast.emit("user-disconnected", {
      socketId: socket.id,
      connectedDuration: Date.now() - connectedAt,
      totalConnected: total,
      timestamp: iso(),
    });
  });
});

// Room chat (§3), quiet on connect: the connect scenario holds its idle sockets here. The
// handlers are registered per socket as chat-server does, so that an idle socket costs
// both servers the same bookkeeping.
const users = new Map();
io.of("/chat").on("connection", (socket) => {
  const toRoom = (p) => (p && p.room ? socket.to(p.room) : socket.broadcast);
  socket.on("join", (name, ack) => {
    users.set(socket.id, { username: String(name), socketId: socket.id });
    socket.emit("join-success", { socketId: socket.id, username: String(name) });
    ackIf(ack, { status: "ok" });
  });
  socket.on("join-room", (room) => {
    socket.join(String(room));
    socket.emit("joined-room", { room, message: `You joined ${room}` });
  });
  socket.on("leave-room", (room) => {
    socket.leave(String(room));
    socket.emit("left-room", { room });
  });
  socket.on("send-message", (p) => {
    const user = users.get(socket.id);
    if (!user) return socket.emit("error", { message: "Join first" });
    const out = { username: user.username, text: p && p.message, timestamp: iso(), socketId: socket.id };
    (p && p.room ? io.of("/chat").to(p.room) : io.of("/chat")).emit("message", out);
  });
  socket.on("private-message", (p) => {
    socket.to(String(p && p.to)).emit("private-message", { fromId: socket.id, text: p && p.message, private: true });
  });
  socket.on("typing", (p) => toRoom(p).emit("user-typing", { room: p && p.room }));
  socket.on("stop-typing", (p) => toRoom(p).emit("user-stop-typing", { room: p && p.room }));
  socket.on("disconnect", () => users.delete(socket.id));
});

httpServer.listen(port, host, () => {
  console.log(`listening on http://${host}:${httpServer.address().port}`);
});
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => io.close(() => process.exit(0)));

// Connection state recovery (socket.io 4.6's connectionStateRecovery) with
// socket.io-client 4: `--connection-state-recovery true` on the echo fixture. A client
// whose transport dropped comes back with the same id, its rooms and every event it
// missed (before its `connect`), `socket.recovered` true; past the window, after a
// server-side disconnect or with a made-up pid it starts afresh, with no error.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const RECOVERY = ["--connection-state-recovery", "true"];
const RECONNECT_MS = 600;

/** A client that reconnects RECONNECT_MS after a drop, logging events and connects in order. */
async function recoveringClient(url, opts = {}) {
  const socket = h.client(url, {
    transports: ["websocket"],
    reconnection: true,
    reconnectionDelay: RECONNECT_MS,
    reconnectionDelayMax: RECONNECT_MS,
    randomizationFactor: 0,
    ...opts,
  });
  socket.log = [];
  socket.onAny((event, ...args) => socket.log.push({ event, args }));
  socket.on("connect", () => socket.log.push({ event: "connect", recovered: socket.recovered, id: socket.id }));
  await h.connected(socket);
  return socket;
}

/** Drops the client's transport (as a network cut would) and waits for its next connect. */
async function dropAndReconnect(socket, duringDrop = async () => {}) {
  const back = h.once(socket, "connect", 10000);
  socket.log.length = 0;
  socket.io.engine.close();
  await duringDrop();
  await back;
}

if (!harness.isReference())
  describe("connection state recovery", () => {
    afterEach(() => h.cleanup());

    it("off by default: no pid in the CONNECT answer, no offset on events", TEST_TIMEOUT, async () => {
      const server = await harness.start();
      try {
        const socket = await h.connect(server.url, { transports: ["websocket"] });
        assert.strictEqual(socket._pid, undefined);
        const got = h.once(socket, "message-back");
        socket.emit("message", "hi");
        assert.deepStrictEqual(await got, ["hi"]);
      } finally {
        await server.stop();
      }
    });

    it("on: a pid in the CONNECT answer, an offset as the last argument of events (not of acks)", TEST_TIMEOUT, async () => {
      const server = await harness.start(RECOVERY);
      try {
        const socket = await recoveringClient(server.url);
        assert.match(socket._pid, /^[A-Za-z0-9_-]{20}$/);
        const got = h.once(socket, "message-back");
        socket.emit("message", "hi");
        const args = await got;
        assert.strictEqual(args.length, 2, JSON.stringify(args));
        assert.strictEqual(args[0], "hi");
        assert.match(args[1], /^[A-Za-z0-9_-]{20}$/);
        assert.strictEqual(socket._lastOffset, args[1]);
        const [ack] = await h.emitAck(socket, "message-with-ack", "x");
        assert.strictEqual(ack, "x");
        const other = await h.connect(server.url, { transports: ["websocket"] });
        const b = h.once(other, "news");
        await h.emitAck(socket, "broadcast", { event: "news", data: 1 });
        const [one, offset] = await b;
        assert.strictEqual(one, 1);
        assert.match(offset, /^[A-Za-z0-9_-]{20}$/);
      } finally {
        await server.stop();
      }
    });

    it("a dropped transport, nothing missed: the same id, its rooms, recovered, no replay", TEST_TIMEOUT, async () => {
      const server = await harness.start(RECOVERY);
      try {
        const socket = await recoveringClient(server.url);
        const id = socket.id;
        await h.emitAck(socket, "join", "room-1");
        await dropAndReconnect(socket);
        assert.strictEqual(socket.id, id);
        assert.strictEqual(socket.recovered, true);
        const [rooms] = await h.emitAck(socket, "rooms");
        assert.deepStrictEqual([...rooms].sort(), [id, "room-1"].sort());
        // Nothing replayed: only what the connection handler sends again ("auth").
        const before = socket.log.findIndex((e) => e.event === "connect");
        assert.deepStrictEqual(socket.log.slice(0, before), []);
        // The pid is a credential: the socket's auth shows the offset, not the pid.
        const [hs] = await h.emitAck(socket, "handshake");
        assert.strictEqual(hs.auth.pid, undefined);
        assert.strictEqual(typeof hs.auth.offset, "string");
      } finally {
        await server.stop();
      }
    });

    it("the events missed while away come before `connect`, in order, filtered by rooms", TEST_TIMEOUT, async () => {
      const server = await harness.start(RECOVERY);
      try {
        const away = await recoveringClient(server.url);
        await h.emitAck(away, "join", "r");
        const sender = await h.connect(server.url, { transports: ["websocket"] });
        await dropAndReconnect(away, async () => {
          await h.delay(150); // the server saw the drop and parked the socket
          await h.emitAck(sender, "broadcast", { event: "missed", data: 1 });
          await h.emitAck(sender, "broadcast", { event: "missed", data: 2, rooms: ["r"] });
          await h.emitAck(sender, "broadcast", { event: "missed", data: 3, rooms: ["elsewhere"] });
          await h.emitAck(sender, "broadcast", { event: "missed", data: 4, except: ["r"] });
          await h.emitAck(sender, "broadcast", { event: "missed", data: 5 });
        });
        assert.strictEqual(away.recovered, true);
        const connectAt = away.log.findIndex((e) => e.event === "connect");
        const missed = away.log.slice(0, connectAt);
        assert.deepStrictEqual(
          missed.map((e) => [e.event, e.args[0]]),
          [
            ["missed", 1],
            ["missed", 2],
            ["missed", 5],
          ],
        );
        // Each came with its own offset (then the connection handler's "auth" moved the
        // client's last offset on).
        const offsets = missed.map((e) => e.args[1]);
        for (const o of offsets) assert.match(o, /^[A-Za-z0-9_-]{20}$/);
        assert.strictEqual(new Set(offsets).size, 3);
        // After the connect, live events again.
        const live = h.once(away, "live");
        await h.emitAck(sender, "broadcast", { event: "live", data: 6, rooms: ["r"] });
        assert.strictEqual((await live)[0], 6);
      } finally {
        await server.stop();
      }
    });

    it("past --recovery-max-disconnection-ms: a new id, not recovered, no error", TEST_TIMEOUT, async () => {
      const server = await harness.start([...RECOVERY, "--recovery-max-disconnection-ms", "200"]);
      try {
        const socket = await recoveringClient(server.url, { reconnectionDelay: 900, reconnectionDelayMax: 900 });
        const id = socket.id;
        await dropAndReconnect(socket);
        assert.notStrictEqual(socket.id, id);
        assert.strictEqual(socket.recovered, false);
      } finally {
        await server.stop();
      }
    });

    it("after a server-side disconnect, or with a made-up pid, a new socket; a pid restores once", TEST_TIMEOUT, async () => {
      const server = await harness.start(RECOVERY);
      try {
        const socket = await recoveringClient(server.url);
        const id = socket.id;
        const gone = h.once(socket, "disconnect");
        socket.emit("disconnect-me");
        assert.strictEqual((await gone)[0], "io server disconnect");
        socket.connect(); // sends its pid and offset: nothing was kept for them
        await h.once(socket, "connect");
        assert.notStrictEqual(socket.id, id);
        assert.strictEqual(socket.recovered, false);

        const forged = await h.connect(server.url, {
          transports: ["websocket"],
          auth: { pid: socket._pid, offset: socket._lastOffset },
        });
        assert.notStrictEqual(forged.id, socket.id);
        assert.strictEqual(forged.recovered, false);
        // Hostile sizes and types are not looked up: a fresh socket, no error.
        for (const auth of [{ pid: "p".repeat(100000), offset: "o" }, { pid: 42, offset: {} }, { pid: socket._pid }]) {
          const odd = await h.connect(server.url, { transports: ["websocket"], auth });
          assert.strictEqual(odd.recovered, false);
          odd.disconnect();
        }

        // A real restore uses up its session: the same pid and offset again start afresh.
        const again = await recoveringClient(server.url);
        const pid = again._pid;
        await dropAndReconnect(again);
        assert.strictEqual(again.recovered, true);
        const offset = again._lastOffset;
        const replay = await h.connect(server.url, { transports: ["websocket"], auth: { pid, offset } });
        assert.strictEqual(replay.recovered, false);
        assert.notStrictEqual(replay.id, again.id);
      } finally {
        await server.stop();
      }
    });
  });

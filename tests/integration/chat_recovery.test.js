// Connection state recovery kept in the store (README, "Connection state recovery"): the
// chat app with --connection-state-recovery keeps parked sockets, connected sockets'
// records and every event sent with an offset in its database, so a client comes back
// after the server restarted (SIGTERM or SIGKILL), and on another node of a cluster after
// its node was killed. A client reconnecting sends {pid, offset} in its CONNECT
// (socket.io-client does so by itself on the same URL); here the restarted server or the
// other node has another URL, so a new client holds the pid and offset the first one got.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");
const { sanitizer } = require("./ws_wire");

// How long a write takes to reach the store (a batch delay and a commit; a sanitizer
// build is many times slower), and a gone node's sockets to be parked after the others
// saw it go.
const SETTLE_MS = sanitizer() ? 1500 : 200;

const TEST_TIMEOUT = { timeout: 40000 };
const ARGS = ["--connection-state-recovery", "true", "--rate-limit", "1000000"];

async function joinRoom(socket, room) {
  const [ack] = await h.emitAck(socket, "join-room", room);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

async function roomMessage(socket, room, message) {
  const [ack] = await h.emitAck(socket, "room-message", { room, message });
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

/** A client in room `room` that got at least one event: what it would come back with. */
async function leaver(url, room) {
  const socket = await h.connect(url, { transports: ["websocket"] });
  const joined = h.once(socket, "joined-room");
  await joinRoom(socket, room);
  await joined;
  assert.ok(socket._pid && socket._lastOffset, "a pid and an offset");
  // The connected socket's record (written at its join) reaches the store's next commit.
  await h.delay(SETTLE_MS);
  return { id: socket.id, pid: socket._pid, offset: socket._lastOffset, socket };
}

/**
 * Connects as the client that left would: a socket holding its pid and last offset (what
 * socket.io-client keeps across reconnects, and sends in its CONNECT; it also sets
 * `recovered` by comparing the answer's pid with it). Logs what came before `connect`.
 */
async function comeBack(url, left) {
  const socket = h.client(url, { transports: ["websocket"] });
  socket._pid = left.pid;
  socket._lastOffset = left.offset;
  const before = [];
  let connected = false;
  socket.onAny((event, ...args) => {
    if (!connected) before.push({ event, args });
  });
  socket.once("connect", () => (connected = true));
  await h.connected(socket);
  return { socket, before };
}

function textsOf(before) {
  return before.filter((e) => e.event === "message").map((e) => e.args[0].text);
}

if (!harness.isReference())
  describe("connection state recovery in the store", () => {
    afterEach(() => h.cleanup());

    for (const signal of ["SIGTERM", "SIGKILL"])
      it(`a server restart (${signal}): the same socket, its room, the events sent while it was away`, TEST_TIMEOUT, async () => {
        const first = await c.startChat(ARGS);
        let second;
        try {
          const left = await leaver(first.url, "r1");
          if (signal === "SIGTERM") await first.stop();
          else {
            const exited = new Promise((resolve) => first.proc.once("exit", resolve));
            first.proc.kill("SIGKILL");
            await exited;
          }
          second = await c.startChat(ARGS, { db: first.db });
          const other = await h.connect(second.url, { transports: ["websocket"] });
          await joinRoom(other, "r1");
          await roomMessage(other, "r1", "while you were away");
          const back = await comeBack(second.url, left);
          assert.strictEqual(back.socket.id, left.id);
          assert.strictEqual(back.socket.recovered, true);
          assert.deepStrictEqual(textsOf(back.before), ["while you were away"]);
          // Back in its room: the next message reaches it live.
          const live = h.once(back.socket, "message");
          await roomMessage(other, "r1", "welcome back");
          assert.strictEqual((await live)[0].text, "welcome back");
        } finally {
          await first.stop();
          if (second) await second.stop();
        }
      });

    it("past --recovery-max-disconnection-ms after a restart: a new socket, no error", TEST_TIMEOUT, async () => {
      const args = [...ARGS, "--recovery-max-disconnection-ms", "300"];
      const first = await c.startChat(args);
      let second;
      try {
        const left = await leaver(first.url, "r1");
        await first.stop();
        await h.delay(700);
        second = await c.startChat(args, { db: first.db });
        const back = await comeBack(second.url, left);
        assert.notStrictEqual(back.socket.id, left.id);
        assert.strictEqual(back.socket.recovered, false);
        assert.deepStrictEqual(textsOf(back.before), []);
      } finally {
        await first.stop();
        if (second) await second.stop();
      }
    });

    it("a node killed in a three-node cluster: its client comes back on another node", TEST_TIMEOUT, async () => {
      // SQLite: a holds the store, b and c reach it over the cluster link. MongoDB (run as
      // integration_mongo.chat_recovery): every node on one database.
      const mongo = process.env.CHAT_TEST_MONGO_URI;
      const topology = mongo
        ? { db: mongo.replace(/(\?|$)/, `_cluster_${process.pid}$1`) }
        : { nodeArgs: { b: ["--store", "cluster"], c: ["--store", "cluster"] } };
      const cluster = await cl.startCluster(["a", "b", "c"], { args: ARGS, failureTimeoutMs: 1500, ...topology });
      try {
        const { a, b, c: cNode } = cluster.byName;
        const left = await leaver(b.url, "r1");
        // Before b is gone its socket is connected, not parked: a claim elsewhere gets a
        // fresh socket (never the id of a socket still connected).
        const early = await comeBack(cNode.url, left);
        assert.notStrictEqual(early.socket.id, left.id);
        assert.strictEqual(early.socket.recovered, false);
        early.socket.disconnect();
        b.proc.kill("SIGKILL");
        const other = await h.connect(a.url, { transports: ["websocket"] });
        await joinRoom(other, "r1");
        await roomMessage(other, "r1", "sent while b was dead");
        // On one MongoDB database each node writes its own log: a's write of that event
        // must reach the database before c reads it (a batch delay and a round trip; a
        // client's reconnection delay is a second by default). With a store node the
        // append and the claim queue in one actor.
        await h.delay(300);
        // b's sockets are parked when the others see it gone (a client's reconnection
        // delay is 1 to 5 s by default; the test's failure timeout is 1.5 s).
        await cl.waitMembers([a, cNode], ["a", "c"]);
        await h.delay(SETTLE_MS);
        const back = await comeBack(cNode.url, left);
        assert.strictEqual(back.socket.id, left.id);
        assert.strictEqual(back.socket.recovered, true);
        assert.deepStrictEqual(textsOf(back.before), ["sent while b was dead"]);
        // Back in its room on c: once c's interest in it reached a (the cluster learns a
        // room's members asynchronously, as after any join), a's messages arrive.
        let got = false;
        back.socket.on("message", (m) => (got = got || m.text === "across the nodes"));
        await h.waitFor(
          async () => {
            if (!got) await roomMessage(other, "r1", "across the nodes");
            await h.delay(100);
            return got;
          },
          5000,
          "a's room message on c",
        );
      } finally {
        await cluster.stopAll();
      }
    });
  });

// An acked message is a stored message: several sockets send 2,000 `sendMessage` with
// acks (docs/chat-protocol.md §2), the server is killed with SIGKILL the moment the last
// ack arrives, and a server restarted on the same SQLite file has every acked message in
// the history (§6, paged with nextBefore). Three rounds on one file, each checking the
// rounds before it too.
"use strict";

const { describe, it } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");

const ROUNDS = 3;
const SOCKETS = 8;
const MESSAGES = 2000; // per round, over all sockets
const IN_FLIGHT = 16; // unacked sendMessage per socket
const CONVERSATIONS = 4; // two sockets write into each
const ARGS = ["--rate-limit", "1000000"];
// What is tested is durability, not latency: under ThreadSanitizer on a loaded 2-core
// machine a socket's acks were seen to wait 3.5 s (helpers.emitAck allows 3 s).
const ACK_TIMEOUT_MS = 20000;

/** Every message of a conversation, newest first, paged at the largest page. */
async function fullHistory(url, conversationId) {
  const out = [];
  let before;
  for (;;) {
    const page = await c.history(url, conversationId, before ? { limit: 100, before } : { limit: 100 });
    out.push(...page.messages);
    if (!page.nextBefore) return out;
    assert.ok(out.length <= MESSAGES * ROUNDS, `${conversationId}: the history does not end`);
    before = page.nextBefore;
  }
}

/** Sends `count` messages from `socket` with at most IN_FLIGHT unacked; resolves with the acked {id, ...}. */
async function sendAll(socket, conversationId, senderId, count) {
  const acked = [];
  let next = 0;
  async function lane() {
    while (next < count) {
      const content = `${senderId} #${next++}`;
      const ack = await new Promise((resolve, reject) =>
        socket
          .timeout(ACK_TIMEOUT_MS)
          .emit("sendMessage", { conversationId, senderId, content, type: "text" }, (err, a) =>
            err ? reject(new Error(`no ack for sendMessage ${content}: ${err.message}`)) : resolve(a),
          ),
      );
      assert.deepStrictEqual(Object.keys(ack).sort(), ["id", "status"], `ack ${JSON.stringify(ack)}`);
      assert.strictEqual(ack.status, "ok");
      acked.push({ id: ack.id, conversationId, senderId, content });
    }
  }
  await Promise.all([...Array(IN_FLIGHT).keys()].map(lane));
  return acked;
}

if (!harness.isReference())
describe("acked messages survive kill -9", () => {
  it(`${ROUNDS} rounds of ${MESSAGES} acked messages over ${SOCKETS} sockets`, { timeout: 150000 }, async () => {
    let db;
    const acked = []; // every round's
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const server = await c.startChat(ARGS, db ? { db } : {});
        db = server.db;
        let results;
        try {
          const sockets = await Promise.all(
            [...Array(SOCKETS).keys()].map((k) =>
              // Every fourth socket polls: its acks travel in HTTP responses.
              c.chatConnect(server.url, { transports: k % 4 === 3 ? ["polling"] : ["websocket"] }),
            ),
          );
          results = await Promise.all(
            sockets.map((s, k) => sendAll(s, `dur-${round}-${k % CONVERSATIONS}`, `u${round}-${k}`, MESSAGES / SOCKETS)),
          );
        } finally {
          // The last ack is in (or the round failed): kill at once, before any orderly
          // shutdown could commit more.
          server.proc.kill("SIGKILL");
        }
        const exit = await server.stop();
        assert.deepStrictEqual(exit, { code: null, signal: "SIGKILL" });
        await h.cleanup();
        for (const r of results) acked.push(...r);
        assert.strictEqual(acked.length, MESSAGES * (round + 1));
        assert.strictEqual(new Set(acked.map((m) => m.id)).size, acked.length, "an id was acked twice");

        const restarted = await c.startChat(ARGS, { db });
        try {
          const stored = new Map();
          for (let r = 0; r <= round; r++)
            for (let k = 0; k < CONVERSATIONS; k++)
              for (const m of await fullHistory(restarted.url, `dur-${r}-${k}`)) stored.set(m.id, m);
          const missing = acked.filter((m) => !stored.has(m.id));
          assert.strictEqual(
            missing.length,
            0,
            `round ${round}: ${missing.length} acked messages missing after kill -9, e.g. ${JSON.stringify(missing.slice(0, 3))}`,
          );
          for (const m of acked) {
            const s = stored.get(m.id);
            assert.deepStrictEqual(
              [s.conversationId, s.senderId, s.content],
              [m.conversationId, m.senderId, m.content],
              `stored message ${m.id}`,
            );
          }
          assert.strictEqual(stored.size, acked.length, "the history holds messages nobody sent");
        } finally {
          await restarted.stop();
        }
      }
    } finally {
      await h.cleanup();
    }
  });
});

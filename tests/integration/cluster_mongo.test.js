// A cluster on one MongoDB database (README, "The MongoDB store"): every node runs
// --store mongodb://... with the same URI and reaches the database by itself, so there is
// no store node: a node can die and the others go on storing, and a node that comes
// back sees everything. The database is a wire-compatible test server of this file's own
// (tests/integration/congo.js).
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");
const { startCongo } = require("./congo");

const TEST_TIMEOUT = { timeout: 60000 };
const KEY = "mongo-api-key";
const ARGS = ["--rate-limit", "1000000", "--api-key", KEY];

describe("a cluster on one MongoDB database", () => {
  let congo;
  let cluster;
  let uri;
  before(async () => {
    congo = await startCongo();
    uri = congo.uri("chat_cluster");
    cluster = await cl.startCluster(["a", "b", "c"], { args: ARGS, db: uri, failureTimeoutMs: 1500 });
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
    if (congo) await congo.stop();
  });

  it("each node stores in the database itself: messages acked on every node, one history everywhere", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const acked = [];
    for (const [node, sender] of [
      [a, "alice"],
      [b, "bob"],
      [cNode, "carol"],
    ]) {
      const socket = await c.chatConnect(node.url);
      for (let i = 0; i < 5; i++) {
        const ack = await c.sendMessage(socket, "mongo-everywhere", sender, `${sender} ${i}`);
        assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
        assert.match(ack.id, /^[0-9a-f]{24}$/, "a message id is an ObjectId");
        acked.push(ack.id);
      }
    }
    for (const node of [a, b, cNode]) {
      const ids = (await c.fullHistory(node.url, "mongo-everywhere")).map((m) => m.id);
      assert.deepStrictEqual([...ids].sort(), [...acked].sort(), `history on ${node.name}`);
    }
    // Nobody offers a store, so nobody complains of two.
    for (const node of [a, b, cNode]) assert.doesNotMatch(node.stderr(), /offers a store too/);
    await h.cleanup();
  });

  it("platform log numbers from different nodes never collide", TEST_TIMEOUT, async () => {
    const { a, b } = cluster.byName;
    const sa = await c.chatConnect(a.url);
    const sb = await c.chatConnect(b.url);
    const ids = [];
    for (let i = 0; i < 10; i++) {
      const [x] = await h.emitAck(sa, "send-message", { sender: "alice", text: `a${i}`, platform: "web" });
      const [y] = await h.emitAck(sb, "send-message", { sender: "bob", text: `b${i}`, platform: "web" });
      assert.strictEqual(x.status, "ok");
      assert.strictEqual(y.status, "ok");
      ids.push(x.id, y.id);
    }
    assert.strictEqual(new Set(ids).size, ids.length, `ids ${ids.join(",")}`);
    await h.cleanup();
  });

  it("SIGKILL of a node (a: the store node it would be with SQLite): the others go on storing, close its connections, and it comes back to everything", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const onA = await c.chatConnect(a.url);
    const onB = await c.chatConnect(b.url);
    assert.strictEqual((await c.sendMessage(onA, "mongo-kill", "alice", "before")).status, "ok");
    await h.waitFor(async () => (await c.activeSocketIds(b.url, KEY)).has(onA.id), 5000, "a's socket recorded as active");
    a.proc.kill("SIGKILL");
    // With SQLite a would be the store node and every write would now be refused.
    const after = await c.sendMessage(onB, "mongo-kill", "bob", "while a is dead");
    assert.strictEqual(after.status, "ok", JSON.stringify(after));
    // b and c see a gone and close its connections in the shared database.
    await h.waitFor(async () => !(await c.activeSocketIds(cNode.url, KEY)).has(onA.id), 10000, "a's socket closed by the others");
    const back = await cluster.start("a");
    await cl.waitMembers([back, b, cNode], ["a", "b", "c"]);
    const contents = (await c.fullHistory(back.url, "mongo-kill")).map((m) => m.content);
    assert.deepStrictEqual(contents, ["while a is dead", "before"]);
    await h.cleanup();
  });
});

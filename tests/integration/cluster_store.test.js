// One conversation store for a whole cluster (README, "One store for a cluster"): node a
// runs the store (--store sqlite, its own --db), nodes b and c open no database
// (--store cluster) and reach a's persistence actor over the cluster link. An ack still
// means committed on a; while a is unreachable, writes on b are refused with a clear
// error and b keeps serving; SIGKILL of a node during traffic loses no acked message.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const fs = require("node:fs");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 30000 };
const KEY = "store-api-key";
const ARGS = ["--rate-limit", "1000000", "--api-key", KEY];
const CLUSTER_STORE = ["--store", "cluster"];

/** Waits until GET /health on each node answers 200: its store answers. */
async function storeReachable(nodes, timeoutMs = 8000) {
  await h.waitFor(
    async () => {
      for (const n of nodes) {
        const res = await h.request(`${n.url}/health`, { timeoutMs: 1000 }).catch(() => null);
        if (!res || res.status !== 200) return false;
      }
      return true;
    },
    timeoutMs,
    "the store reachable from every node",
  );
}

/**
 * A client that lists several nodes: connected to the first, it moves to the next one
 * when its connection drops, and sends sendMessage (`inFlight` at once) until stopped,
 * keeping the id of every message acknowledged with status ok.
 */
class roamingClient {
  constructor(urls, conversationId, senderId) {
    this.urls = urls;
    this.conversationId = conversationId;
    this.senderId = senderId;
    this.index = 0;
    this.acked = []; // {id, content}
    this.ackedAt = []; // which url acked each
    this.drops = 0;
    this.stopped = false;
    this.n = 0;
  }

  async connect() {
    const socket = await c.chatConnect(this.urls[this.index]);
    this.socket = socket;
    this.gone = new Promise((resolve) => socket.once("disconnect", (reason) => resolve(reason)));
    this.gone.then(() => {
      if (this.stopped) return;
      this.drops++;
      this.index = (this.index + 1) % this.urls.length;
      this.reconnecting = this.connect();
    });
    return socket;
  }

  async lane() {
    while (!this.stopped) {
      const socket = this.socket;
      const url = this.urls[this.index];
      const content = `${this.senderId} #${this.n++}`;
      // A message in flight when the connection drops is neither acked nor refused.
      const outcome = await Promise.race([
        c.sendMessage(socket, this.conversationId, this.senderId, content).catch((e) => ({ failed: e.message })),
        this.gone.then(() => ({ dropped: true })),
      ]);
      if (outcome.dropped) {
        await this.reconnecting;
        continue;
      }
      if (outcome.status === "ok") {
        this.acked.push({ id: outcome.id, content });
        this.ackedAt.push(url);
      } else if (!outcome.failed) {
        throw new Error(`${content}: ${JSON.stringify(outcome)}`);
      }
    }
  }

  run(inFlight) {
    // A lane that fails stops them all; stop() reports it.
    this.lanes = Promise.all([...Array(inFlight).keys()].map(() => this.lane())).catch((e) => {
      this.stopped = true;
      this.error = e;
    });
    return this;
  }

  async stop() {
    this.stopped = true;
    await this.lanes;
    if (this.error) throw this.error;
  }
}

describe("cluster: one store for every node", { timeout: 90000 }, () => {
  let cluster;

  before(async () => {
    cluster = await cl.startCluster(["a", "b", "c"], {
      args: ARGS,
      nodeArgs: { b: CLUSTER_STORE, c: CLUSTER_STORE },
    });
    await storeReachable(cluster.nodes);
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });
  afterEach(() => h.cleanup());

  it("a message acked on node c is in the history read on node b; b and c open no database", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const sender = await c.chatConnect(cNode.url);
    const ack = await c.sendMessage(sender, "store-1", "carol", "stored on a, sent on c");
    assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
    for (const node of [b, a]) {
      const page = await c.history(node.url, "store-1");
      assert.deepStrictEqual(
        page.messages.map((m) => [m.id, m.content]),
        [[ack.id, "stored on a, sent on c"]],
        `history on ${node.name}`,
      );
    }
    // The --db each node was given: only the store node has a file there.
    assert.ok(fs.existsSync(a.db), "the store node's database");
    assert.ok(!fs.existsSync(b.db) && !fs.existsSync(cNode.db), "a --store cluster node opened a database");
  });

  it("SIGKILL of a node during traffic: no other client drops, its clients move on, every acked message is stored", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    // Two clients on each node; those on c list the other nodes next.
    const clients = [
      new roamingClient([a.url], "kill-a0", "a0"),
      new roamingClient([a.url], "kill-a1", "a1"),
      new roamingClient([b.url], "kill-b0", "b0"),
      new roamingClient([b.url], "kill-b1", "b1"),
      new roamingClient([cNode.url, a.url, b.url], "kill-c0", "c0"),
      new roamingClient([cNode.url, b.url, a.url], "kill-c1", "c1"),
    ];
    try {
      for (const k of clients) await k.connect();
      const ids = clients.map((k) => k.socket.id);
      await h.waitFor(async () => {
        const active = await c.activeSocketIds(a.url, KEY);
        return ids.every((id) => active.has(id));
      }, 3000, "every connection recorded");
      for (const k of clients) k.run(4);
      await h.waitFor(() => clients.every((k) => k.acked.length >= 100), 8000, "traffic on every node");
      cNode.proc.kill("SIGKILL");
      await cl.waitMembers([a, b], ["a", "b"], 5000);
      const moved = clients.slice(4);
      // The dead node's clients reconnect elsewhere and get acks there.
      await h.waitFor(
        () => moved.every((k) => k.drops === 1 && k.ackedAt.filter((u) => u !== cNode.url).length >= 100),
        8000,
        "c's clients acked on another node",
      );
      // The store closed the dead node's connections; the others' stay active.
      await h.waitFor(async () => {
        const active = await c.activeSocketIds(b.url, KEY);
        return !active.has(ids[4]) && !active.has(ids[5]);
      }, 3000, "c's connections closed in the store");
      const active = await c.activeSocketIds(b.url, KEY);
      for (const id of ids.slice(0, 4)) assert.ok(active.has(id), `${id} (on a or b) is no longer active`);
      await Promise.all(clients.map((k) => k.stop()));
      for (const k of clients.slice(0, 4)) assert.strictEqual(k.drops, 0, `${k.senderId} lost its connection`);
      assert.deepStrictEqual(
        moved.map((k) => k.urls[k.index]),
        [a.url, b.url],
      );
      for (const k of clients) {
        const stored = new Map((await c.fullHistory(b.url, k.conversationId)).map((m) => [m.id, m.content]));
        for (const m of k.acked) assert.strictEqual(stored.get(m.id), m.content, `${k.senderId}: acked ${m.id} missing`);
      }
    } finally {
      for (const k of clients) k.stopped = true;
    }
  });

  it("SIGKILL of the store node: writes on b are refused with a clear error, b keeps serving; the store back, writes go on", TEST_TIMEOUT, async () => {
    const { a, b } = cluster.byName;
    const b1 = await c.chatConnect(b.url);
    const b2 = await c.chatConnect(b.url);
    let dropped = 0;
    for (const s of [b1, b2]) s.on("disconnect", () => dropped++);
    assert.strictEqual((await c.sendMessage(b1, "store-2", "bob", "before")).status, "ok");
    a.proc.kill("SIGKILL");
    // Refused, never acked: at once once b knows, or when b finds out a is gone.
    const refused = await c.sendMessage(b1, "store-2", "bob", "while the store is down");
    assert.deepStrictEqual(refused, { status: "error", error: "Storage unavailable" });
    const again = await c.sendMessage(b1, "store-2", "bob", "still down");
    assert.deepStrictEqual(again, { status: "error", error: "Storage unavailable" });
    // The HTTP API says so too.
    const health = await c.httpJson(`${b.url}/health`);
    assert.strictEqual(health.status, 503);
    assert.strictEqual(health.json.status, "degraded");
    const post = await c.httpJson(`${b.url}/api/conversations/store-2/messages`, {
      method: "POST",
      body: { senderId: "bob", content: "over HTTP", type: "text" },
    });
    assert.deepStrictEqual([post.status, post.json], [503, { error: "Storage unavailable" }]);
    // b serves everything that needs no store: rooms, relays, new clients.
    for (const s of [b1, b2]) assert.strictEqual((await h.emitAck(s, "joinRoom", "store-2"))[0].status, "ok");
    b1.emit("typing", { conversationId: "store-2", userId: "bob" });
    assert.deepStrictEqual((await b2.inbox.take("userTyping"))[0], { conversationId: "store-2", userId: "bob" });
    const late = await c.chatConnect(b.url);
    assert.strictEqual((await h.emitAck(late, "ping"))[0].status, "ok");
    assert.strictEqual(dropped, 0);
    // The store node restarts on its file: b uses it again, and nothing refused was stored.
    const a2 = await cluster.start("a", { db: a.db });
    await cl.waitMembers([a2, b], ["a", "b"], 8000);
    await storeReachable([b]);
    // Its start closed only what it had open itself: b's clients are still active.
    const active = await c.activeSocketIds(b.url, KEY);
    assert.ok(active.has(b1.id) && active.has(b2.id), "b's connections were closed by the store node's start");
    const after = await c.sendMessage(b1, "store-2", "bob", "after");
    assert.strictEqual(after.status, "ok", JSON.stringify(after));
    const history = await c.history(b.url, "store-2");
    assert.deepStrictEqual(
      history.messages.map((m) => m.content),
      ["after", "before"],
    );
    assert.strictEqual(dropped, 0);
  });
});

// The rate limit across two chat-server nodes (docs/chat-protocol.md §8, "Rate limit"):
// each node decides at once on its own counts and tells the other every 250 ms what it let
// through, so a user spread over nodes is held to one limit once the counts crossed.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const SECRET = "cluster-rl-secret";
const LIMITED = { status: "error", error: "Rate limit exceeded" };
// Three replication intervals: the counts have crossed by then.
const CROSSED_MS = 750;

function token(userId) {
  return c.jwt({ userId, exp: c.nowSec() + 3600 }, SECRET);
}

async function platformSend(socket, text) {
  const [ack] = await h.emitAck(socket, "send-message", { sender: "rl", text, platform: "web" });
  return ack;
}

describe("cluster: the rate limit", { timeout: 60000 }, () => {
  let cluster;

  before(async () => {
    cluster = await cl.startCluster(["a", "b"], { args: ["--jwt-secret", SECRET, "--rate-limit", "3"] });
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });
  afterEach(() => h.cleanup());

  it("a user's sends on two nodes count against one limit; another user is unaffected", TEST_TIMEOUT, async () => {
    const { a, b } = cluster.byName;
    const onA = await c.chatConnect(a.url, { auth: { token: token("rl-alice") } });
    const onB = await c.chatConnect(b.url, { auth: { token: token("rl-alice") } });
    const bob = await c.chatConnect(b.url, { auth: { token: token("rl-bob") } });
    for (const text of ["1", "2"]) assert.strictEqual((await platformSend(onA, text)).status, "ok");
    await h.delay(CROSSED_MS);
    assert.strictEqual((await platformSend(onB, "3")).status, "ok");
    assert.deepStrictEqual(await platformSend(onB, "4"), LIMITED);
    await h.delay(CROSSED_MS);
    assert.deepStrictEqual(await platformSend(onA, "5"), LIMITED);
    for (const text of ["1", "2", "3"]) assert.strictEqual((await platformSend(bob, text)).status, "ok");
  });
});

// Several chat-server processes as one server (README, "Running several nodes"):
// membership (join through seeds, the cluster secret, leave on SIGTERM, death on SIGKILL,
// rejoin after a restart, TLS links) and broadcasts that reach each socket once, on
// whichever node it is connected.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const { execFile, execFileSync } = require("node:child_process");
const { promisify } = require("node:util");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 30000 };
const execFileAsync = promisify(execFile);
const KEY = "cluster-api-key";

async function api(node, body) {
  return c.httpJson(`${node.url}/api/emit`, { method: "POST", headers: { "x-api-key": KEY }, body });
}

async function joined(s, room) {
  const [ack] = await h.emitAck(s, "joinRoom", room);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

describe("cluster: nodes and broadcasts", { timeout: 90000 }, () => {
  let cluster;

  before(async () => {
    cluster = await cl.startCluster(["a", "b", "c"], { args: ["--api-key", KEY] });
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });
  afterEach(() => h.cleanup());

  it("a room broadcast reaches the room's members on every node exactly once, the sender left out", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    const a2 = await c.chatConnect(a.url);
    const b1 = await c.chatConnect(b.url);
    const c1 = await c.chatConnect(cNode.url);
    const outsider = await c.chatConnect(b.url);
    for (const s of [a1, a2, b1, c1]) await joined(s, "room-x");
    await h.delay(200); // the room interest reaches the other nodes
    // seed 001's typing.started goes to the room's other members (socket.to(room)).
    a1.emit("typing.started", { room: "room-x", user: "amy" });
    for (const s of [a2, b1, c1]) {
      const [m] = await s.inbox.take("typing.started");
      assert.deepStrictEqual(m, { room: "room-x", user: "amy" });
    }
    await c.assertNone([a2, b1, c1], "typing.started", 500);
    await c.assertNone([a1, outsider], "typing.started", 0);
  });

  it("a peer that reaches the cluster port without joining cannot act as the node or as a member", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    // Anonymously and from an actor of its own: a broadcast to everyone, a room interest,
    // `leave` in b's name, a's own leave and shutdown, then a members query.
    const { stdout } = await execFileAsync(process.env.CLUSTER_INTRUDER, ["127.0.0.1", String(a.clusterPort), "b"], {
      timeout: 15000,
    });
    assert.match(stdout, /members: refused/);
    await c.assertNone([a1], "intruder", 500);
    for (const n of [a, b, cNode]) assert.deepStrictEqual([...(await cl.health(n)).cluster.members].sort(), ["a", "b", "c"]);
    assert.doesNotMatch(a.stderr(), /member b left/);
    assert.doesNotMatch(b.stderr(), /member a left/);
    await api(a, { event: "still-served", data: 1 });
    assert.strictEqual((await a1.inbox.take("still-served"))[0], 1);
  });

  it("another node's socket id is no room to join; a message to it crosses to its node", TEST_TIMEOUT, async () => {
    const { a, b } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    const b1 = await c.chatConnect(b.url);
    // The conversations' joinRoom (/) and the room chat's join-room (/chat) refuse it as
    // they refuse a socket of their own node.
    const [ack] = await h.emitAck(a1, "joinRoom", b1.id);
    assert.strictEqual(ack.status, "error", JSON.stringify(ack));
    assert.strictEqual(ack.error, "Forbidden");
    const chatA = await c.chatConnect(`${a.url}/chat`);
    const chatB = await c.chatConnect(`${b.url}/chat`);
    for (const [s, name] of [[chatA, "ann"], [chatB, "ben"]]) {
      s.emit("join", name);
      await s.inbox.take("join-success");
    }
    const [refused] = await h.emitAck(chatA, "join-room", chatB.id);
    assert.strictEqual(refused.status, "error", JSON.stringify(refused));
    chatA.emit("private-message", { to: chatB.id, message: "across" });
    const [pm] = await chatB.inbox.take("private-message");
    assert.strictEqual(pm.text, "across");
    assert.strictEqual(pm.fromId, chatA.id);
  });

  it("POST /api/emit on one node: the namespace, a room minus an except room, one user's sockets on another node", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    const b1 = await c.chatConnect(b.url);
    const c1 = await c.chatConnect(cNode.url);
    const c2 = await c.chatConnect(cNode.url, { auth: { userId: "user-on-c" } });
    for (const s of [a1, b1, c1]) await joined(s, "room-y");
    await joined(b1, "room-skip");
    await h.delay(200);

    let res = await api(a, { event: "everyone", data: { n: 1 } });
    assert.strictEqual(res.status, 200, res.body);
    for (const s of [a1, b1, c1, c2]) assert.deepStrictEqual((await s.inbox.take("everyone"))[0], { n: 1 });
    await c.assertNone([a1, b1, c1, c2], "everyone", 400);

    res = await api(cNode, { event: "in-room", room: "room-y", except: "room-skip", data: 2 });
    assert.strictEqual(res.status, 200, res.body);
    for (const s of [a1, c1]) assert.deepStrictEqual((await s.inbox.take("in-room"))[0], 2);
    await c.assertNone([a1, c1], "in-room", 400);
    await c.assertNone([b1, c2], "in-room", 0);

    res = await api(a, { event: "for-you", userId: "user-on-c", data: "hi" });
    assert.strictEqual(res.status, 200, res.body);
    assert.deepStrictEqual((await c2.inbox.take("for-you"))[0], "hi");
    await c.assertNone([a1, b1, c1, c2], "for-you", 400);

    res = await api(a, { event: "x", except: [] });
    assert.strictEqual(res.status, 400, res.body);
  });

  it("a room on one node only: the others take no part, and a join on another node makes it reach there", TEST_TIMEOUT, async () => {
    const { a, b } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    const b1 = await c.chatConnect(b.url);
    await joined(a1, "room-z");
    await h.delay(200);
    await api(b, { event: "z", room: "room-z", data: 1 });
    assert.deepStrictEqual((await a1.inbox.take("z"))[0], 1);
    await c.assertNone([b1], "z", 300);
    await joined(b1, "room-z");
    await h.delay(200);
    await api(a, { event: "z", room: "room-z", data: 2 });
    for (const s of [a1, b1]) assert.deepStrictEqual((await s.inbox.take("z"))[0], 2);
  });

  it("a node with the wrong secret is refused", TEST_TIMEOUT, async () => {
    const d = await cluster.start("d", { secret: "not-the-secret" });
    try {
      await h.delay(1500);
      const healthD = await cl.health(d);
      assert.deepStrictEqual(healthD.cluster.members, ["d"]);
      for (const n of ["a", "b", "c"]) {
        const body = await cl.health(cluster.byName[n]);
        assert.deepStrictEqual([...body.cluster.members].sort(), ["a", "b", "c"]);
      }
      assert.match(cluster.byName.a.stderr(), /refused node d .*does not know the cluster secret/);
    } finally {
      await d.stop();
      delete cluster.byName.d;
    }
  });

  it("SIGKILL of a node: the others keep their clients and forget it; restarted, it rejoins and gets broadcasts", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const a1 = await c.chatConnect(a.url);
    const c1 = await c.chatConnect(cNode.url);
    let dropped = 0;
    for (const s of [a1, c1]) s.on("disconnect", () => dropped++);
    b.proc.kill("SIGKILL");
    await cl.waitMembers([a, cNode], ["a", "c"], 5000);
    assert.match(a.stderr(), /member b failed/);
    assert.strictEqual(dropped, 0);
    const b2 = await cluster.start("b");
    await cl.waitMembers([a, b2, cNode], ["a", "b", "c"], 8000);
    const bClient = await c.chatConnect(b2.url);
    await h.delay(200);
    await api(a, { event: "after-restart", data: true });
    for (const s of [a1, bClient, c1]) assert.strictEqual((await s.inbox.take("after-restart"))[0], true);
    assert.strictEqual(dropped, 0);
  });

  it("SIGTERM: the node says it leaves, the others forget it at once", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const started = Date.now();
    await cNode.stop();
    await cl.waitMembers([a, b], ["a", "b"], 1500);
    assert.ok(Date.now() - started < 4000);
    assert.match(a.stderr(), /member c left/);
    const c2 = await cluster.start("c");
    await cl.waitMembers([a, b, c2], ["a", "b", "c"], 8000);
  });
});

describe("cluster: links over TLS", { timeout: 90000 }, () => {
  let dir;
  let cluster;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cluster-tls-"));
    execFileSync("openssl", [
      "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=chat-cluster",
      "-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem"),
    ], { stdio: "ignore" });
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("nodes that dial each other at once link over TLS; a node without TLS is refused and no link suffers", TEST_TIMEOUT, async () => {
    const tls = ["--cluster-tls-cert", path.join(dir, "cert.pem"), "--cluster-tls-key", path.join(dir, "key.pem")];
    // Every node seeds every other: each pair dials both ways at once.
    cluster = await cl.startCluster(["a", "b", "c"], { args: ["--api-key", KEY, ...tls] });
    const { a, b } = cluster.byName;
    assert.match(a.stderr(), /listening on 127\.0\.0\.1:\d+ \(TLS\)/);
    const b1 = await c.chatConnect(b.url);
    await h.delay(100);
    await api(a, { event: "over-tls", data: 1 });
    assert.strictEqual((await b1.inbox.take("over-tls"))[0], 1);
    // Plain BASP against the TLS listeners: no link, no admission (its own args lack TLS),
    // and its failed handshakes cost the TLS links nothing (they outlive a failure timeout).
    const plain = await require("./harness").start(
      ["--node-id", "p", "--cluster-listen", `127.0.0.1:${await cl.freePort()}`, "--cluster-seeds", cluster.seeds,
       "--cluster-secret", cl.SECRET],
      { app: "chat" },
    );
    try {
      await h.delay(3000);
      assert.deepStrictEqual((await cl.health(plain)).cluster.members, ["p"]);
      for (const n of cluster.nodes)
        assert.deepStrictEqual([...(await cl.health(n)).cluster.members].sort(), ["a", "b", "c"]);
      assert.doesNotMatch(a.stderr(), /member [bc] failed/);
    } finally {
      await plain.stop();
    }
    // New TLS handshakes after the failed ones still succeed: c restarts and rejoins.
    cluster.byName.c.proc.kill("SIGKILL");
    await cl.waitMembers([a, b], ["a", "b"], 5000);
    const c2 = await cluster.start("c");
    await cl.waitMembers([a, b, c2], ["a", "b", "c"], 8000);
    const cClient = await c.chatConnect(c2.url);
    await h.delay(200);
    await api(a, { event: "over-tls", data: 2 });
    assert.strictEqual((await cClient.inbox.take("over-tls"))[0], 2);
    assert.strictEqual((await b1.inbox.take("over-tls"))[0], 2);
  });
});

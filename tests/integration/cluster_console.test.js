// The admin console against a two-node cluster: a console connected to node a answers
// for both nodes (status, sockets, rooms, socket), acts on node b's sockets (emit, join,
// kick), tails node b's activity, sets b's log level, and drains b.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./console_helpers");
const { startCluster, freePort } = require("./cluster_helpers");

const T = { timeout: 60000 };

describe("admin console over a cluster", { skip: harness.isReference() }, () => {
  let cluster, a, b, portA, portB;
  before(async () => {
    portA = await freePort();
    portB = await freePort();
    cluster = await startCluster(["a", "b"], {
      args: ["--admin-token", c.TOKEN],
      nodeArgs: { a: ["--admin-listen", `127.0.0.1:${portA}`], b: ["--admin-listen", `127.0.0.1:${portB}`] },
    });
    a = cluster.byName.a;
    b = cluster.byName.b;
    await c.ready(portA);
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });

  it("status, nodes, sockets, rooms and socket cover both nodes from either", T, async () => {
    const onA = await h.connect(a.url, { transports: ["websocket"] });
    const onB = await h.connect(b.url, { transports: ["websocket"] });
    await c.json(portA, `join / ${onB.id} cluster-room`); // b's socket, from a's console

    const status = await c.json(portA, "status");
    assert.deepStrictEqual(status.nodes.map((n) => n.node).sort(), ["a", "b"]);
    for (const n of status.nodes) assert.strictEqual(n.connections["websocket/4"], 1, `node ${n.node}`);

    const nodes = await c.json(portA, "nodes");
    assert.deepStrictEqual(
      nodes.nodes.map((n) => [n.name, n.self]).sort(),
      [
        ["a", true],
        ["b", false],
      ],
    );

    const sockets = await c.json(portA, "sockets /");
    const where = Object.fromEntries(sockets.sockets.map((s) => [s.id, s.node]));
    assert.strictEqual(where[onA.id], "a");
    assert.strictEqual(where[onB.id], "b");

    const rooms = await c.json(portA, "rooms /");
    assert.deepStrictEqual(rooms.rooms.filter((r) => r.room === "cluster-room"), [
      { nsp: "/", room: "cluster-room", members: 1 },
    ]);
    const fromB = await c.json(portB, `socket ${onA.id}`);
    assert.strictEqual(fromB.socket.node, "a");
    assert.deepStrictEqual(fromB.socket.rooms, [onA.id]);
  });

  it("emit and kick reach the other node's sockets", T, async () => {
    const onB = await h.connect(b.url, { transports: ["websocket"] });
    const onA = await h.connect(a.url, { transports: ["websocket"] });
    await c.json(portA, `join / ${onB.id} remote-room`);
    const got = h.once(onB, "from-console");
    const none = h.noEvent(onA, "from-console");
    await c.json(portA, 'emit / remote-room from-console {"hello":"b"}');
    assert.deepStrictEqual((await got)[0], { hello: "b" });
    assert.strictEqual(await none, true);
    const gone = h.once(onB, "disconnect");
    const bid = onB.id;
    assert.strictEqual((await c.json(portA, `kick ${bid}`)).kicked, bid);
    assert.strictEqual((await gone)[0], "io server disconnect");
  });

  it("tail on a shows what happens on b; log-level reaches b", T, async () => {
    const t = c.tail(portA);
    await h.waitFor(() => t.started(), 5000, "tail started");
    const onB = await h.connect(b.url, { transports: ["websocket"] });
    const bid = onB.id;
    onB.emit("typing.started", { conversationId: "c-cluster" });
    await h.waitFor(
      () => t.lines().some((l) => l.kind === "event" && l.node === "b" && l.socket === bid),
      5000,
      "b's event in a's tail",
    );
    assert.ok(t.lines().some((l) => l.kind === "connect" && l.node === "b" && l.socket === bid));
    assert.strictEqual((await t.stop()).code, 0);

    assert.deepStrictEqual(await c.json(portA, "log-level debug"), { level: "debug", nodes: 2 });
    const again = await h.connect(b.url, { transports: ["websocket"] });
    const again_id = again.id;
    await h.waitFor(() => b.stderr().includes(`connect nsp=/ socket=${again_id}`), 5000, "debug line on b");
    await c.json(portA, "log-level info");
  });

  it("drain NODE drains that node only; a wrong token gets nothing from either", T, async () => {
    const refused = await c.admin(portB, ["-c", "drain a"], { token: "wrong" });
    assert.strictEqual(refused.code, 3);
    const missing = await c.admin(portA, ["-c", "drain nosuchnode"]);
    assert.strictEqual(missing.code, 1);
    assert.deepStrictEqual(await c.json(portA, "drain b"), { draining: "b" });
    await h.waitFor(async () => (await h.request(`${b.url}/health`)).status === 503, 5000, "b draining");
    const healthA = await h.request(`${a.url}/health`);
    assert.strictEqual(healthA.status, 200);
    const status = await c.json(portA, "status");
    const byNode = Object.fromEntries(status.nodes.map((n) => [n.node, n.draining]));
    assert.deepStrictEqual(byNode, { a: false, b: true });
  });
});

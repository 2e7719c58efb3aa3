// No sticky sessions (docs/architecture.md, "Sessions behind a load balancer"): three
// chat-server nodes behind a round-robin proxy that sends each request, and each
// WebSocket upgrade, to the next node. A session lives on the node that answered its
// handshake; the others forward its polling requests and relay its WebSocket there. The
// client never sees "Session ID unknown"; when the session's node dies it reconnects.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const http = require("node:http");
const net = require("node:net");
const WebSocket = require("ws");
const ioV2 = require("socket.io-client-v2");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 40000 };
const SECRET = "no-sticky-secret";
const NAMES = ["a", "b", "c"];

/** Three nodes, each seeded with every cluster port; resolves once all list all. */
async function startNodes() {
  // A long-polling GET waits up to pingInterval at the session's node.
  const cluster = await cl.startCluster(NAMES, { secret: SECRET, args: ["--ping-interval", "3000", "--ping-timeout", "3000"] });
  return cluster.byName;
}

/**
 * The load balancer: each HTTP request and each WebSocket upgrade goes to the next live
 * node. Handshakes (no sid) take turns on their own counter, or go to `pin` when set, so
 * a test knows where a session lives; an upgrade skips its session's node, so it is
 * always relayed. Records every request ({sid, node, upgrade, status, body}) and which
 * node answered each handshake (owners: sid -> node name).
 */
function startProxy(nodes) {
  const p = {
    live: Object.values(nodes),
    next: 0,
    nextHandshake: 0,
    pin: null,
    owners: new Map(),
    log: [],
    sockets: new Set(),
  };
  const nextNode = () => p.live[p.next++ % p.live.length];
  function pick(req, upgrade) {
    const sid = new URL(req.url, "http://proxy").searchParams.get("sid");
    if (!sid) return { sid, node: p.pin ? nodes[p.pin] : p.live[p.nextHandshake++ % p.live.length] };
    let node = nextNode();
    if (upgrade && p.owners.get(sid) === node.name && p.live.length > 1) node = nextNode();
    return { sid, node };
  }
  const server = http.createServer((req, res) => {
    const { sid, node } = pick(req, false);
    const entry = { sid, node: node.name, upgrade: false, method: req.method };
    p.log.push(entry);
    const up = http.request(
      { host: "127.0.0.1", port: node.port, method: req.method, path: req.url, headers: req.headers, agent: false },
      (ur) => {
        const chunks = [];
        ur.on("data", (d) => chunks.push(d));
        ur.on("end", () => {
          const body = Buffer.concat(chunks);
          entry.status = ur.statusCode;
          entry.body = body.toString("utf8");
          // The open packet names the session: it lives where the handshake was answered.
          const open = !sid && ur.statusCode === 200 && /^0(\{.*?\})(\x1e|$)/.exec(entry.body);
          if (open) p.owners.set(JSON.parse(open[1]).sid, node.name);
          res.writeHead(ur.statusCode, ur.headers);
          res.end(body);
        });
        ur.on("error", () => res.destroy());
      },
    );
    up.on("error", () => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  });
  server.on("connection", (s) => {
    p.sockets.add(s);
    s.on("close", () => p.sockets.delete(s));
  });
  server.on("upgrade", (req, socket, head) => {
    const { sid, node } = pick(req, true);
    p.log.push({ sid, node: node.name, upgrade: true, method: req.method });
    const upstream = net.connect(node.port, "127.0.0.1", () => {
      let raw = `${req.method} ${req.url} HTTP/1.1\r\n`;
      for (let i = 0; i < req.rawHeaders.length; i += 2) raw += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
      upstream.write(`${raw}\r\n`);
      if (head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
    });
    p.sockets.add(upstream);
    const end = () => {
      socket.destroy();
      upstream.destroy();
      p.sockets.delete(upstream);
    };
    upstream.on("error", end);
    upstream.on("close", end);
    socket.on("error", end);
    socket.on("close", end);
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      p.url = `http://127.0.0.1:${server.address().port}`;
      p.close = () =>
        new Promise((done) => {
          for (const s of p.sockets) s.destroy();
          server.close(() => done());
        });
      resolve(p);
    });
  });
}

/** Counts what the client must never see while its session's node lives. */
function watch(socket) {
  const seen = { connectError: 0, disconnect: 0, reasons: [] };
  socket.on("connect_error", (e) => {
    seen.connectError++;
    seen.reasons.push(`connect_error: ${e.message}`);
  });
  socket.on("disconnect", (reason) => {
    seen.disconnect++;
    seen.reasons.push(`disconnect: ${reason}`);
  });
  return seen;
}

/** A node's number as session ids carry it (FNV-1a of its name, as actors/cluster_node). */
function nodeNumber(name) {
  let x = 2166136261;
  for (const ch of Buffer.from(name)) x = Math.imul((x ^ ch) >>> 0, 16777619) >>> 0;
  return x === 0 ? 1 : x;
}

/** A well-formed id of node `name` that names no session. */
function idOfNode(name) {
  const raw = crypto.randomBytes(15);
  raw.writeUInt32LE(nodeNumber(name), 0);
  return raw.toString("base64url");
}

const UNKNOWN_SID = { code: 1, message: "Session ID unknown" };

async function joined(s, room) {
  const [ack] = await h.emitAck(s, "joinRoom", room);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

function unknownSid(proxy) {
  return proxy.log.filter((e) => /Session ID unknown/.test(e.body || ""));
}

/** The requests of session `sid` that a node other than its own took. */
function forwarded(proxy, sid) {
  const owner = proxy.owners.get(sid);
  return proxy.log.filter((e) => e.sid === sid && e.node !== owner);
}

describe("cluster: no sticky sessions behind a round-robin proxy", { timeout: 150000 }, () => {
  let nodes;
  let proxy;

  before(async () => {
    nodes = await startNodes();
    proxy = await startProxy(nodes);
  });
  after(async () => {
    await h.cleanup();
    if (proxy) await proxy.close();
    if (!nodes) return;
    const ends = await Promise.all(Object.values(nodes).map((n) => n.stop()));
    // The last node stops on SIGTERM by itself: no endpoint or forwarded request keeps
    // an actor (and the process) alive.
    for (const [i, n] of Object.values(nodes).entries())
      if (n.name === "a") assert.deepStrictEqual(ends[i], { code: 0, signal: null }, `node ${n.name} stopped`);
  });
  afterEach(() => h.cleanup());

  it("polling only: connect, acks and broadcasts across nodes, every request on the next node", TEST_TIMEOUT, async () => {
    const s1 = c.chatClient(proxy.url, { transports: ["polling"] });
    const s2 = c.chatClient(proxy.url, { transports: ["polling"] });
    const seen = [watch(s1), watch(s2)];
    await h.connected(s1);
    await h.connected(s2);
    const [sid1, sid2] = [s1.io.engine.id, s2.io.engine.id];
    assert.ok(proxy.owners.get(sid1) && proxy.owners.get(sid2));
    assert.notStrictEqual(proxy.owners.get(sid1), proxy.owners.get(sid2), "the two sessions live on two nodes");

    await joined(s1, "np-room");
    await joined(s2, "np-room");
    await h.delay(300); // the room interest reaches the other nodes
    for (let i = 0; i < 5; i++) {
      s1.emit("typing.started", { room: "np-room", n: i });
      assert.deepStrictEqual((await s2.inbox.take("typing.started"))[0], { room: "np-room", n: i });
      s2.emit("typing.started", { room: "np-room", back: i });
      assert.deepStrictEqual((await s1.inbox.take("typing.started"))[0], { room: "np-room", back: i });
      await joined(s1, `np-extra-${i}`);
    }
    // The sessions' GETs and POSTs did go through the other nodes, and they stayed put.
    for (const sid of [sid1, sid2]) {
      const f = forwarded(proxy, sid);
      assert.ok(f.some((e) => e.method === "GET" && e.status === 200), `forwarded GETs of ${sid}`);
      assert.ok(f.some((e) => e.method === "POST" && e.status === 200), `forwarded POSTs of ${sid}`);
    }
    assert.strictEqual(s1.io.engine.id, sid1);
    assert.strictEqual(s1.io.engine.transport.name, "polling");
    assert.deepStrictEqual(unknownSid(proxy), []);
    for (const s of seen) assert.deepStrictEqual(s.reasons, []);
  });

  it("polling, then the upgrade to WebSocket on another node: same session, messages both ways", TEST_TIMEOUT, async () => {
    const w1 = c.chatClient(proxy.url);
    const w2 = c.chatClient(proxy.url);
    const p1 = c.chatClient(proxy.url, { transports: ["polling"] });
    const seen = [watch(w1), watch(w2), watch(p1)];
    for (const s of [w1, w2, p1]) await h.connected(s);
    const sids = [w1.io.engine.id, w2.io.engine.id];
    await h.waitFor(
      () => w1.io.engine.transport.name === "websocket" && w2.io.engine.transport.name === "websocket",
      8000,
      "both clients upgraded",
    );
    for (const [i, s] of [w1, w2].entries()) {
      assert.strictEqual(s.io.engine.id, sids[i], "the session id stays the same");
      const upgrades = proxy.log.filter((e) => e.sid === sids[i] && e.upgrade);
      assert.strictEqual(upgrades.length, 1);
      assert.notStrictEqual(upgrades[0].node, proxy.owners.get(sids[i]), "the WebSocket landed on another node");
    }

    for (const s of [w1, w2, p1]) await joined(s, "ws-room");
    await h.delay(300);
    for (let i = 0; i < 5; i++) {
      w1.emit("typing.started", { room: "ws-room", from: "w1", i });
      for (const s of [w2, p1])
        assert.deepStrictEqual((await s.inbox.take("typing.started"))[0], { room: "ws-room", from: "w1", i });
      w2.emit("typing.started", { room: "ws-room", from: "w2", i });
      for (const s of [w1, p1])
        assert.deepStrictEqual((await s.inbox.take("typing.started"))[0], { room: "ws-room", from: "w2", i });
      p1.emit("typing.started", { room: "ws-room", from: "p1", i });
      for (const s of [w1, w2])
        assert.deepStrictEqual((await s.inbox.take("typing.started"))[0], { room: "ws-room", from: "p1", i });
      await joined(w1, `ws-extra-${i}`);
      await joined(w2, `ws-extra-${i}`);
    }
    // Past a few heartbeats (pingInterval 3 s): pings and pongs cross the relay too.
    await h.delay(4000);
    await joined(w1, "ws-late");
    assert.strictEqual(w1.io.engine.transport.name, "websocket");
    assert.deepStrictEqual(unknownSid(proxy), []);
    for (const s of seen) assert.deepStrictEqual(s.reasons, []);
  });

  it("Socket.IO v2 clients (Engine.IO v3): polling forwarded, the upgrade relayed, binary both ways", TEST_TIMEOUT, async () => {
    const opened = [];
    const v2 = (transports) => {
      const s = ioV2(proxy.url, { forceNew: true, reconnection: false, timeout: 5000, transports });
      opened.push(s);
      return s;
    };
    const next = (s, event) => h.withTimeout(new Promise((resolve) => s.once(event, (...a) => resolve(a))), 3000, event);
    try {
      const w = v2(["polling", "websocket"]);
      const p = v2(["polling"]);
      await Promise.all([next(w, "connect"), next(p, "connect")]);
      const wsid = w.io.engine.id;
      await h.waitFor(() => w.io.engine.transport.name === "websocket", 8000, "the v2 upgrade");
      assert.strictEqual(w.io.engine.id, wsid);
      const upgrade = proxy.log.find((e) => e.sid === wsid && e.upgrade);
      assert.ok(upgrade && upgrade.node !== proxy.owners.get(wsid), "relayed");
      assert.ok(forwarded(proxy, p.io.engine.id).length > 0, "forwarded");
      for (const [from, to] of [[w, p], [p, w]]) {
        const got = next(to, "custom-event");
        from.emit("custom-event", { eventType: "file", data: Buffer.from([1, 2, 3, 250]) });
        const [ev] = await got;
        assert.deepStrictEqual(Buffer.from(ev.data.data), Buffer.from([1, 2, 3, 250]));
      }
      assert.deepStrictEqual(unknownSid(proxy), []);
    } finally {
      for (const s of opened) s.close();
    }
  });

  it("an unknown session of another node is answered by that node, as on one node", TEST_TIMEOUT, async () => {
    const { a } = nodes;
    const poll = (sid, method = "GET", body) =>
      h.request(`${a.url}/socket.io/?EIO=4&transport=polling&sid=${sid}`, { method, body });
    for (const owner of ["b", "zz"]) { // a member, and a node that is none
      for (const method of ["GET", "POST"]) {
        const res = await poll(idOfNode(owner), method, method === "POST" ? "4x" : undefined);
        assert.strictEqual(res.status, 400, `${owner} ${method}`);
        assert.deepStrictEqual(JSON.parse(res.body), UNKNOWN_SID);
      }
    }
    // The owner's engine checks the rest in the reference's order: a bad transport first.
    const bad = await h.request(`${a.url}/socket.io/?EIO=4&transport=carrier-pigeon&sid=${idOfNode("b")}`);
    assert.strictEqual(bad.status, 400);
    assert.deepStrictEqual(JSON.parse(bad.body), { code: 0, message: "Transport unknown" });

    // A WebSocket for it: accepted here, closed once the owner refuses it.
    const ws = new WebSocket(`ws://127.0.0.1:${a.port}/socket.io/?EIO=4&transport=websocket&sid=${idOfNode("b")}`);
    const [code, reason] = await h.once(ws, "close", 5000);
    assert.strictEqual(code, 1008);
    assert.deepStrictEqual(JSON.parse(reason.toString()), UNKNOWN_SID);

    // A live session of b, its requests sent to a: answered by b.
    const s = await c.chatConnect(nodes.b.url, { transports: ["polling"] });
    const res = await poll(s.io.engine.id, "POST", "3"); // a pong out of turn: ignored, "ok"
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.body, "ok");
  });

  it("SIGKILL of the sessions' node: relayed and forwarded clients reconnect to a live node", TEST_TIMEOUT, async () => {
    const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 };
    proxy.pin = "c"; // both sessions live on c
    const w = c.chatClient(proxy.url, opts);
    const p = c.chatClient(proxy.url, { ...opts, transports: ["polling"] });
    await h.connected(w);
    await h.connected(p);
    proxy.pin = null;
    const before = [w.io.engine.id, p.io.engine.id];
    for (const sid of before) assert.strictEqual(proxy.owners.get(sid), "c");
    await h.waitFor(() => w.io.engine.transport.name === "websocket", 8000, "upgrade");
    await joined(w, "k-room");
    await joined(p, "k-room");
    assert.deepStrictEqual(unknownSid(proxy), []);

    const reconnected = [w, p].map((s) => h.once(s, "connect", 15000));
    proxy.live = proxy.live.filter((n) => n.name !== "c");
    nodes.c.proc.kill("SIGKILL");
    await Promise.all(reconnected);
    for (const [i, s] of [w, p].entries()) {
      assert.notStrictEqual(s.io.engine.id, before[i], "a new session");
      assert.ok(["a", "b"].includes(proxy.owners.get(s.io.engine.id)), "on a live node");
      await joined(s, "k-room-after");
    }
    w.emit("typing.started", { room: "k-room-after", from: "w" });
    assert.deepStrictEqual((await p.inbox.take("typing.started"))[0], { room: "k-room-after", from: "w" });
  });

  it("SIGTERM of a node that relays and forwards for another's sessions: it stops, the clients reconnect", TEST_TIMEOUT, async () => {
    const opts = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 300 };
    proxy.pin = "a";
    const w = c.chatClient(proxy.url, opts);
    const p = c.chatClient(proxy.url, { ...opts, transports: ["polling"] });
    await h.connected(w);
    await h.connected(p);
    proxy.pin = null;
    await h.waitFor(() => w.io.engine.transport.name === "websocket", 8000, "upgrade");
    const wsid = w.io.engine.id;
    assert.strictEqual(proxy.log.find((e) => e.sid === wsid && e.upgrade).node, "b", "relayed by b");
    await joined(p, "t-room"); // p's requests take turns on a and b

    const reconnected = h.once(w, "connect", 15000);
    proxy.live = proxy.live.filter((n) => n.name !== "b");
    const end = await nodes.b.stop(); // SIGTERM; SIGKILL past 3 s
    assert.deepStrictEqual(end, { code: 0, signal: null }, "b stopped by itself");
    await reconnected; // its WebSocket closed with b
    assert.strictEqual(proxy.owners.get(w.io.engine.id), "a");
    await joined(w, "t-room");
    await joined(p, "t-room-2");
    w.emit("typing.started", { room: "t-room", from: "w" });
    assert.deepStrictEqual((await p.inbox.take("typing.started"))[0], { room: "t-room", from: "w" });
  });
});

// The admin console against one node: chat-admin -c, standard input and --json, the
// token, every command's effect on real socket.io-client v4 clients, tail until SIGINT,
// log-level, drain (with /health and HEAD /health) and shutdown.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./console_helpers");

const T = { timeout: 60000 };

describe("admin console (one node)", { skip: harness.isReference() }, () => {
  let server, port;
  before(async () => {
    const con = await c.consoleArgs();
    port = con.port;
    server = await harness.start(con.args, { app: "chat" });
    await c.ready(port);
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  it("status, nodes, sockets, rooms and socket describe the connected clients", T, async () => {
    const a = await h.connect(server.url, { transports: ["websocket"] });
    const b = await h.connect(server.url, { transports: ["polling"] });
    assert.strictEqual((await c.json(port, `join / ${a.id} console-room`)).joined, 1);

    const status = await c.json(port, "status");
    assert.strictEqual(status.nodes.length, 1);
    const node = status.nodes[0];
    assert.match(node.version, /^\d+\.\d+\.\d+$/);
    assert.strictEqual(node.connections["websocket/4"], 1);
    assert.strictEqual(node.connections["polling/4"], 1);
    assert.strictEqual(node.namespaces["/"].sockets, 2);
    assert.ok(node.namespaces["/"].rooms >= 1);
    assert.ok(node.store.commits >= 1, "connections are recorded in the store");
    assert.strictEqual(typeof node.store.queue, "number");

    const nodes = await c.json(port, "nodes");
    assert.deepStrictEqual(nodes.nodes.map((n) => n.self), [true]);

    const all = await c.json(port, "sockets /");
    assert.deepStrictEqual(all.sockets.map((s) => s.id).sort(), [a.id, b.id].sort());
    const inRoom = await c.json(port, "sockets / --room console-room");
    assert.deepStrictEqual(inRoom.sockets.map((s) => s.id), [a.id]);
    const everywhere = await c.json(port, "sockets");
    assert.ok(everywhere.sockets.some((s) => s.id === b.id), "sockets without a namespace lists every namespace");

    const rooms = await c.json(port, "rooms /");
    assert.deepStrictEqual(rooms.rooms.filter((r) => r.room === "console-room"), [
      { nsp: "/", room: "console-room", members: 1 },
    ]);
    assert.ok(!rooms.rooms.some((r) => r.room === a.id), "own-id rooms are left out");

    const one = (await c.json(port, `socket ${b.id}`)).socket;
    assert.strictEqual(one.id, b.id);
    assert.strictEqual(one.nsp, "/");
    assert.strictEqual(one.transport, "polling");
    assert.strictEqual(one.address, "127.0.0.1");
    assert.ok(one.handshake.headers["user-agent"] !== undefined || Object.keys(one.handshake.headers).length > 0);

    // The text form a person reads.
    const text = await c.admin(port, ["-c", "sockets / --room console-room"]);
    assert.strictEqual(text.code, 0);
    assert.match(text.stdout, new RegExp(`${a.id}\\s+/\\s+.*websocket\\s+127\\.0\\.0\\.1\\s+console-room`));
    assert.match(text.stdout, /1 socket\n/);
  });

  it("emit, join, leave and kick act on the sockets; unknown ones fail with status 1", T, async () => {
    const a = await h.connect(server.url, { transports: ["websocket"] });
    const b = await h.connect(server.url, { transports: ["websocket"] });
    await c.json(port, `join / ${a.id} news`);
    const got = h.once(a, "console-news");
    const none = h.noEvent(b, "console-news");
    const sent = await c.json(port, 'emit / news console-news {"text": "two  spaces", "n": 1}');
    assert.deepStrictEqual(sent, { emitted: "console-news", nsp: "/", to: "news" });
    assert.deepStrictEqual((await got)[0], { text: "two  spaces", n: 1 });
    assert.strictEqual(await none, true);

    const toAll = Promise.all([h.once(a, "console-all"), h.once(b, "console-all")]);
    await c.json(port, "emit / * console-all");
    await toAll;

    assert.strictEqual((await c.json(port, `leave / ${a.id} news`)).left, 1);
    const gone = h.noEvent(a, "console-news");
    await c.json(port, "emit / news console-news 1");
    assert.strictEqual(await gone, true);

    const disconnected = h.once(b, "disconnect");
    const bid = b.id; // gone once it disconnects
    const kick = await c.json(port, `kick ${bid} testing the console`);
    assert.deepStrictEqual(kick, { kicked: bid, reason: "testing the console" });
    assert.strictEqual((await disconnected)[0], "io server disconnect");
    await h.waitFor(() => server.stderr().includes(`kicked socket ${bid}: testing the console`), 3000, "kick logged");

    const missing = await c.admin(port, ["-c", "kick nosuchsocket"]);
    assert.strictEqual(missing.code, 1);
    assert.match(missing.stderr, /no socket nosuchsocket/);
    const bad = await c.admin(port, ["-c", "emit / * connect"]);
    assert.strictEqual(bad.code, 1, "a reserved event name is refused");
    const notJson = await c.admin(port, ["-c", "emit / * ev {nope"]);
    assert.strictEqual(notJson.code, 2);
    const unknown = await c.admin(port, ["-c", "frobnicate"]);
    assert.strictEqual(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    const usage = await c.admin(port, ["-c", "join / onlytwo"]);
    assert.strictEqual(usage.code, 2);
    assert.match(usage.stderr, /usage: join NSP SID ROOM/);
  });

  it("a wrong token is refused (status 3) and logged; nothing is done", T, async () => {
    const a = await h.connect(server.url, { transports: ["websocket"] });
    const none = h.noEvent(a, "intruder");
    const r = await c.admin(port, ["-c", "emit / * intruder"], { token: "not-the-token" });
    assert.strictEqual(r.code, 3);
    assert.match(r.stderr, /wrong admin token/);
    assert.strictEqual(await none, true);
    await h.waitFor(() => /refused a command with a wrong admin token/.test(server.stderr()), 3000, "refusal logged");
  });

  it("commands come from standard input too; help is answered by the console", T, async () => {
    const r = await c.admin(port, ["--json"], { input: "nodes\n\nrooms /\n" });
    assert.strictEqual(r.code, 0, r.stderr);
    const answers = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.ok(answers[0].nodes && answers[1].rooms);
    const failing = await c.admin(port, [], { input: "nodes\nfrobnicate\nnodes\n" });
    assert.strictEqual(failing.code, 2, "the first failing command's status");
    const help = await c.admin(port, ["-c", "help tail"]);
    assert.match(help.stdout, /tail \[NSP\] \[--event EVENT\]/);
  });

  it("tail streams connects, events with their arguments, broadcasts, joins and disconnects until SIGINT", T, async () => {
    const t = c.tail(port, ["/"]);
    const filtered = c.tail(port, ["--event", "typing.started"]);
    await h.waitFor(() => t.started() && filtered.started(), 5000, "tails started");
    const a = await h.connect(server.url, { transports: ["websocket"] });
    a.emit("typing.started", { conversationId: "c-tail" });
    a.emit("join-room", "tail-room");
    const aid = a.id; // gone once it disconnects
    await h.waitFor(() => t.lines().some((l) => l.kind === "join" && l.name === "tail-room"), 5000, "join seen");
    a.disconnect();
    await h.waitFor(() => t.lines().some((l) => l.kind === "disconnect"), 5000, "disconnect seen");
    const lines = t.lines();
    const connect = lines.find((l) => l.kind === "connect" && l.socket === aid);
    assert.ok(connect, JSON.stringify(lines));
    assert.match(connect.detail, /127\.0\.0\.1/);
    const ev = lines.find((l) => l.kind === "event" && l.name === "typing.started");
    assert.strictEqual(ev.socket, aid);
    assert.deepStrictEqual(JSON.parse(ev.detail), [{ conversationId: "c-tail" }]);
    assert.ok(ev.bytes > 0);
    assert.ok(lines.some((l) => l.kind === "broadcast" && l.name === "user-connected"), "broadcasts are shown");
    assert.strictEqual(lines.find((l) => l.kind === "disconnect").name, "client namespace disconnect");
    assert.deepStrictEqual((await t.stop()).code, 0);
    const only = filtered.lines();
    assert.ok(only.length >= 1 && only.every((l) => l.name === "typing.started"), JSON.stringify(only));
    assert.strictEqual((await filtered.stop()).code, 0);
  });

  it("a tail of a flood gets at most 1000 items a second and a count of the rest", T, async () => {
    const t = c.tail(port, ["/", "--event", "flood"]);
    await h.waitFor(() => t.started(), 5000, "tail started");
    const a = await h.connect(server.url, { transports: ["websocket"] });
    const started = Date.now();
    for (let i = 0; i < 4000; i++) a.emit("flood", i);
    const sent = Date.now() - started;
    await h.waitFor(() => t.lines().some((l) => l.kind === "dropped"), 5000, "a dropped count");
    const lines = t.lines();
    const events = lines.filter((l) => l.kind === "event" && l.name === "flood").length;
    const dropped = lines.filter((l) => l.kind === "dropped").reduce((n, l) => n + l.bytes, 0);
    // Within the seconds the flood took (at most one budget per second it spans, plus one).
    assert.ok(events <= 1000 * (Math.ceil(sent / 1000) + 1), `${events} items in ${sent} ms`);
    assert.ok(events >= 1, "some of the flood is shown");
    assert.ok(dropped > 0 && events + dropped <= 4000, `${events} shown, ${dropped} counted`);
    assert.strictEqual((await t.stop()).code, 0);
  });

  it("log-level debug logs a line per connect, event and disconnect; back to info", T, async () => {
    assert.deepStrictEqual(await c.json(port, "log-level debug"), { level: "debug", nodes: 1 });
    const a = await h.connect(server.url, { transports: ["websocket"] });
    a.emit("typing.stopped", { conversationId: "c-log" });
    const aid = a.id; // gone once it disconnects
    await h.delay(200);
    a.disconnect();
    await h.waitFor(() => server.stderr().includes(`disconnect nsp=/ socket=${aid}`), 3000, "disconnect line");
    const log = server.stderr();
    assert.match(log, new RegExp(`connect nsp=/ socket=${aid} session=\\S+ transport=websocket`));
    assert.match(log, new RegExp(`event nsp=/ socket=${aid} event=typing.stopped args=1`));
    assert.deepStrictEqual(await c.json(port, "log-level info"), { level: "info", nodes: 1 });
    const bad = await c.admin(port, ["-c", "log-level loud"]);
    assert.strictEqual(bad.code, 2);
  });
});

describe("admin console: drain and shutdown", { skip: harness.isReference() }, () => {
  after(() => h.cleanup());

  it("drain closes the sessions (the clients reconnect and are refused), /health and HEAD /health say draining", T, async () => {
    const con = await c.consoleArgs();
    const server = await harness.start(con.args, { app: "chat" });
    try {
      await c.ready(con.port);
      const a = await h.connect(server.url, {
        transports: ["websocket"],
        reconnection: true,
        reconnectionDelay: 100,
        reconnectionDelayMax: 200,
      });
      const closed = h.once(a, "disconnect");
      const refused = h.once(a.io, "reconnect_error", 10000);
      assert.ok((await c.json(con.port, "drain")).draining !== undefined);
      assert.strictEqual((await closed)[0], "transport close", "an Engine.IO close: the client reconnects on its own");
      await refused; // ... and this node refuses it: a load balancer sends it elsewhere
      const health = await h.request(`${server.url}/health`);
      assert.strictEqual(health.status, 503);
      assert.strictEqual(JSON.parse(health.body).status, "draining");
      const head = await h.request(`${server.url}/health`, { method: "HEAD" });
      assert.strictEqual(head.status, 503);
      assert.strictEqual(head.body, "");
      const hs = await h.request(`${server.url}/socket.io/?EIO=4&transport=polling`);
      assert.strictEqual(hs.status, 403);
      const status = await c.json(con.port, "status");
      assert.strictEqual(status.nodes[0].draining, true);
      const metrics = await h.request(`${server.url}/metrics`);
      assert.match(metrics.body, /^chat_draining 1$/m);
    } finally {
      await h.cleanup();
      await server.stop();
    }
  });

  it("shutdown stops the server as SIGTERM does (exit 0)", T, async () => {
    const con = await c.consoleArgs();
    const server = await harness.start(con.args, { app: "chat" });
    await c.ready(con.port);
    const r = await c.json(con.port, "shutdown");
    assert.deepStrictEqual(r, { stopping: "" });
    await h.waitFor(() => server.exited(), 10000, "server exit");
    const { code } = await server.stop();
    assert.strictEqual(code, 0);
  });
});

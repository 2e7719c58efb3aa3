// The server side of socket.io's Admin UI (@socket.io/admin-ui 0.5, docs/admin-ui-protocol.md),
// driven with socket.io-client 4 as the UI drives it: basic auth against a bcrypt hash,
// `session` / `config` / `all_sockets` on connect, the live events (socket_connected,
// room_joined, event_received, event_sent, socket_updated, room_left, socket_disconnected),
// server_stats every 2 s, the UI's commands (emit, join, leave, _disconnect), read-only and
// production modes, the login budget, the bundle at /admin-ui/, and two nodes.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert");
const { spawnSync } = require("node:child_process");
const harness = require("./harness");
const h = require("./helpers");
const { startCluster } = require("./cluster_helpers");

const T = { timeout: 30000 };
// socket.io admin-ui's README hash: the password is "changeit".
const HASH = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";
const NSP = "/socket-admin";
const LOGIN = { username: "admin", password: "changeit" };
const UI_ARGS = ["--admin-ui", "true", "--admin-ui-password-hash", HASH];

/** An admin socket as the UI opens one, recording every event in order. */
function adminClient(url, auth = LOGIN, opts = {}) {
  const socket = h.client(`${url}${NSP}`, { auth, transports: ["websocket"], ...opts });
  const events = [];
  socket.onAny((event, ...args) => events.push({ event, args }));
  return { socket, events, of: (name) => events.filter((e) => e.event === name).map((e) => e.args) };
}

async function connectedAdmin(url, auth = LOGIN, opts = {}) {
  // Past 5 bcrypts a second over the server a login is told to try again in a second, as
  // a person would.
  for (let tries = 0; ; ++tries) {
    const a = adminClient(url, auth, opts);
    try {
      await h.connected(a.socket);
      return a;
    } catch (err) {
      if (tries >= 10 || !/try again in a second/.test(err.message)) throw err;
      await h.delay(300);
    }
  }
}

/** Waits for the first `event` whose args satisfy `pred`; returns its args. */
async function seen(admin, event, pred = () => true, what = event) {
  let found;
  await h.waitFor(() => (found = admin.of(event).find((args) => pred(...args))), 6000, what);
  return found;
}

describe("socket.io Admin UI, one node", { skip: harness.isReference() }, () => {
  let server;
  before(async () => {
    server = await harness.start(UI_ARGS, { app: "chat" });
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });

  it("wrong, missing or partial credentials get connect_error 'invalid credentials'", T, async () => {
    for (const auth of [
      { username: "admin", password: "changeIt" },
      { username: "root", password: "changeit" },
      { username: "admin" }, // the reference's middleware never answers this one
      { sessionId: null },
      { sessionId: "0123456789abcdef" },
      {},
    ]) {
      const err = await h.connectError(`${server.url}${NSP}`, { auth, transports: ["websocket"] });
      assert.strictEqual(err.message, "invalid credentials", JSON.stringify(auth));
    }
    assert.match(server.stderr(), /admin-ui: login from 127\.0\.0\.1 refused: invalid credentials/);
  });

  it("a login gets session after the CONNECT answer, then config, then all_sockets of every namespace", T, async () => {
    const user = await h.connect(server.url, { transports: ["polling"] });
    const joined = h.once(user, "joined-room");
    user.emit("join-room", "lobby");
    await joined;
    const a = adminClient(server.url);
    let sessionAtConnect = null;
    a.socket.on("connect", () => (sessionAtConnect = a.of("session").length));
    await h.connected(a.socket);
    await seen(a, "all_sockets");
    assert.strictEqual(sessionAtConnect, 0, "session comes after the CONNECT answer, so the UI's listener gets it");
    assert.deepStrictEqual(
      a.events.slice(0, 3).map((e) => e.event),
      ["session", "config", "all_sockets"],
    );
    assert.match(a.of("session")[0][0], /^[0-9a-f]{16}$/);
    assert.deepStrictEqual(a.of("config")[0][0], {
      supportedFeatures: ["EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS", "ALL_EVENTS"],
    });
    const all = a.of("all_sockets")[0][0];
    const mine = all.find((s) => s.id === user.id);
    assert.ok(mine, "the user's socket is listed");
    assert.deepStrictEqual(Object.keys(mine), ["id", "clientId", "transport", "nsp", "data", "handshake", "rooms"]);
    assert.strictEqual(mine.nsp, "/");
    assert.strictEqual(mine.transport, "polling");
    assert.ok(mine.rooms.includes(user.id) && mine.rooms.includes("lobby"), JSON.stringify(mine.rooms));
    assert.deepStrictEqual(Object.keys(mine.handshake), ["address", "headers", "query", "issued", "secure", "time", "url", "xdomain"]);
    assert.strictEqual(mine.handshake.query.EIO, "4");
    assert.strictEqual(mine.handshake.address, "127.0.0.1");
    assert.match(mine.handshake.url, /^\/socket\.io\/\?EIO=4/);
    assert.ok(Math.abs(mine.handshake.issued - Date.now()) < 60000);
    assert.ok(mine.clientId.length > 0);
    const self = all.find((s) => s.id === a.socket.id);
    assert.strictEqual(self.nsp, NSP, "the admin socket lists itself");
    assert.ok(!JSON.stringify(all).includes("changeit"), "no handshake auth (the password) in what the UI gets");
  });

  it("the session id logs in without the password, on reconnect or after a reload", T, async () => {
    const first = await connectedAdmin(server.url);
    const [session] = await seen(first, "session");
    first.socket.disconnect();
    const again = await connectedAdmin(server.url, { sessionId: session });
    await seen(again, "config");
    assert.strictEqual(again.of("session").length, 0, "no new session for a session login");
  });

  it("follows sockets: connect, rooms, events both ways, the upgrade, the disconnect and its rooms", T, async () => {
    const a = await connectedAdmin(server.url);
    await seen(a, "all_sockets");
    const user = h.client(server.url, { transports: ["polling", "websocket"] });
    await h.connected(user);
    const [connected, at] = await seen(a, "socket_connected", (s) => s.id === user.id);
    assert.strictEqual(connected.nsp, "/");
    assert.match(at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepStrictEqual(connected.rooms, [user.id]);
    await seen(a, "room_joined", (nsp, room, id) => nsp === "/" && room === user.id && id === user.id, "own room");
    const ownRoom = a.events.findIndex((e) => e.event === "room_joined" && e.args[2] === user.id);
    const connectAt = a.events.findIndex((e) => e.event === "socket_connected" && e.args[0].id === user.id);
    assert.ok(ownRoom < connectAt, "the own room first, as socket.io");
    await seen(a, "socket_updated", (u) => u.id === user.id && u.transport === "websocket", "upgrade");

    user.emit("join-room", "r1"); // seed 003: joins, answers joined-room to this socket
    await seen(a, "room_joined", (nsp, room, id) => room === "r1" && id === user.id);
    const [, , received] = await seen(a, "event_received", (nsp, id, args) => id === user.id && args[0] === "join-room");
    assert.deepStrictEqual(received, ["join-room", "r1"]);
    const [, , sent] = await seen(a, "event_sent", (nsp, id, args) => id === user.id && args[0] === "joined-room");
    assert.strictEqual(sent[1].room, "r1");
    user.emit("leave-room", "r1");
    await seen(a, "room_left", (nsp, room, id) => room === "r1" && id === user.id);

    user.emit("join-room", "r2");
    await seen(a, "room_joined", (nsp, room, id) => room === "r2" && id === user.id);
    const id = user.id;
    user.disconnect();
    const [, , reason] = await seen(a, "socket_disconnected", (nsp, sid) => sid === id);
    assert.strictEqual(reason, "client namespace disconnect");
    await seen(a, "room_left", (nsp, room, sid) => room === "r2" && sid === id, "its rooms left");
    await seen(a, "room_left", (nsp, room, sid) => room === id && sid === id, "its own room left");
    assert.ok(!a.of("event_received").some(([nsp]) => nsp === NSP), "the admin namespace's own events are not reported");
  });

  it("server_stats every 2 s with the node's figures and what happened since the last", T, async () => {
    const a = await connectedAdmin(server.url);
    const user = await h.connect(server.url, { transports: ["polling"] });
    user.emit("message", "hello");
    const t0 = Date.now();
    await seen(a, "server_stats");
    await h.waitFor(() => a.of("server_stats").length >= 2, 5000, "a second server_stats");
    const gap = Date.now() - t0;
    assert.ok(gap >= 1500, `two stats ${gap} ms apart at least`);
    const all = a.of("server_stats").map(([s]) => s);
    const s = all[all.length - 1];
    assert.deepStrictEqual(Object.keys(s), [
      "serverId", "hostname", "pid", "uptime", "clientsCount", "pollingClientsCount", "aggregatedEvents", "namespaces",
    ]);
    assert.strictEqual(s.pid, server.proc.pid);
    assert.ok(s.clientsCount >= 2, "the user and the admin UI");
    assert.ok(s.pollingClientsCount >= 1);
    assert.ok(s.uptime > 0);
    const names = s.namespaces.map((n) => n.name);
    assert.ok(names.includes("/") && names.includes(NSP), names.join(","));
    const types = new Set(all.flatMap((x) => x.aggregatedEvents.map((e) => e.type)));
    for (const t of ["rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"]) assert.ok(types.has(t), `${t} in ${[...types]}`);
    for (const e of all.flatMap((x) => x.aggregatedEvents)) {
      assert.strictEqual(e.timestamp % 1000, 0);
      assert.ok(e.count > 0);
    }
  });

  it("the UI's commands: join, leave, emit, _disconnect of one socket, of a room, with its connection", T, async () => {
    const a = await connectedAdmin(server.url);
    const u1 = await h.connect(server.url, { transports: ["websocket"] });
    const u2 = await h.connect(server.url, { transports: ["websocket"] });
    a.socket.emit("join", "/", "ops", u1.id);
    await seen(a, "room_joined", (nsp, room, id) => room === "ops" && id === u1.id);
    const got = h.once(u1, "notice");
    a.socket.emit("emit", "/", "ops", "notice", { text: "hi" }, 2);
    assert.deepStrictEqual(await got, [{ text: "hi" }, 2]);
    assert.ok(await h.noEvent(u2, "notice", 300), "u2 is not in ops");
    a.socket.emit("leave", "/", "ops", u1.id);
    await seen(a, "room_left", (nsp, room, id) => room === "ops" && id === u1.id);

    a.socket.emit("join", "/", "doomed"); // every socket of /
    await seen(a, "room_joined", (nsp, room, id) => room === "doomed" && id === u2.id);
    const gone = h.once(u2, "disconnect");
    a.socket.emit("_disconnect", "/", false, u2.id);
    assert.strictEqual((await gone)[0], "io server disconnect");
    const closed = h.once(u1, "disconnect");
    a.socket.emit("_disconnect", "/", true, "doomed");
    assert.strictEqual((await closed)[0], "io server disconnect");
    await h.waitFor(() => u1.io.engine.readyState === "closed", 3000, "its connection closed");
  });

  it("bad commands get an error event and change nothing", T, async () => {
    const a = await connectedAdmin(server.url);
    for (const [args, words] of [
      [["join", 5, "r"], /namespace/],
      [["join", "/nowhere", "r"], /no namespace \/nowhere/],
      [["join", "/", ""], /room name/],
      [["leave", "/", { r: 1 }], /room name/],
      [["emit", "/", null, 7], /event name/],
      [["emit", "/", null, "disconnect"], /reserved/],
      [["emit", "/", 12, "x"], /filter/],
      [["_disconnect", "/", "yes"], /true .* or false/],
    ]) {
      const before = a.of("error").length;
      a.socket.emit(...args);
      await h.waitFor(() => a.of("error").length > before, 3000, JSON.stringify(args));
      const [err] = a.of("error")[before];
      assert.strictEqual(err.event, args[0]);
      assert.match(err.message, words, JSON.stringify(args));
    }
    assert.ok(a.socket.connected);
  });

  it("a guesser gets 10 tries a minute from an address, then 'too many failed logins'", T, async () => {
    const wrong = { username: "admin", password: "nope" };
    let throttled = null;
    for (let i = 0; i < 40 && !throttled; ++i) {
      const err = await h.connectError(`${server.url}${NSP}`, { auth: wrong, transports: ["websocket"] });
      // Past 5 bcrypts a second over the server: "try again in a second" (not a failure).
      if (/try again in a second/.test(err.message)) await h.delay(250);
      else if (err.message !== "invalid credentials") throttled = err.message;
    }
    assert.match(throttled, /too many failed logins/);
    // The right password waits too (from this address), a session does not.
    const err = await h.connectError(`${server.url}${NSP}`, { auth: LOGIN, transports: ["websocket"] });
    assert.match(err.message, /too many failed logins/);
  });

  it("serves the UI at /admin-ui/, pointed at this server and namespace", T, async () => {
    const redirect = await h.request(`${server.url}/admin-ui`);
    assert.strictEqual(redirect.status, 301);
    assert.strictEqual(redirect.headers.location, "/admin-ui/");
    const index = await h.request(`${server.url}/admin-ui/`);
    assert.strictEqual(index.status, 200);
    assert.match(index.headers["content-type"], /text\/html/);
    assert.match(index.body, /<script src="preset.js"><\/script><script src="js\/chunk-vendors\.[0-9a-f]+\.js">/);
    const preset = await h.request(`${server.url}/admin-ui/preset.js`);
    assert.match(preset.body, /localStorage\.setItem\("namespace", "\/socket-admin"\)/);
    const app = /src="(js\/app\.[0-9a-f]+\.js)"/.exec(index.body)[1];
    const js = await h.request(`${server.url}/admin-ui/${app}`);
    assert.strictEqual(js.status, 200);
    assert.match(js.headers["content-type"], /javascript/);
    assert.strictEqual((await h.request(`${server.url}/admin-ui/${app}.map`)).status, 404, "no source maps");
    assert.strictEqual((await h.request(`${server.url}/admin-ui/js/nothing.js`)).status, 404);
  });
});

describe("socket.io Admin UI, read-only and production", { skip: harness.isReference() }, () => {
  after(() => h.cleanup());

  it("read-only: config says so and the commands are refused with an error", T, async () => {
    const server = await harness.start([...UI_ARGS, "--admin-ui-readonly", "true"], { app: "echo" });
    try {
      const a = await connectedAdmin(server.url);
      await seen(a, "all_sockets");
      assert.deepStrictEqual(a.of("config")[0][0].supportedFeatures, ["AGGREGATED_EVENTS", "ALL_EVENTS"]);
      const user = await h.connect(server.url, { transports: ["websocket"] });
      a.socket.emit("_disconnect", "/", false, user.id);
      const [err] = await seen(a, "error");
      assert.strictEqual(err.event, "_disconnect");
      assert.match(err.message, /read-only/);
      assert.ok(await h.noEvent(user, "disconnect", 300), "still connected");
    } finally {
      await h.cleanup();
      await server.stop();
    }
  });

  it("production: no per-socket events and no all_sockets, server_stats still", T, async () => {
    const server = await harness.start([...UI_ARGS, "--admin-ui-mode", "production"], { app: "echo" });
    try {
      const a = await connectedAdmin(server.url);
      await seen(a, "config");
      assert.deepStrictEqual(a.of("config")[0][0].supportedFeatures, [
        "EMIT", "JOIN", "LEAVE", "DISCONNECT", "MJOIN", "MLEAVE", "MDISCONNECT", "AGGREGATED_EVENTS",
      ]);
      await h.connect(server.url, { transports: ["websocket"] });
      await seen(a, "server_stats");
      assert.deepStrictEqual(
        [...new Set(a.events.map((e) => e.event))].sort(),
        ["config", "server_stats", "session"],
      );
    } finally {
      await h.cleanup();
      await server.stop();
    }
  });

  it("bad settings stop the server with one line naming them", T, async () => {
    for (const [args, words] of [
      [["--admin-ui", "true"], /admin-ui needs admin-ui-password-hash/],
      [["--admin-ui", "true", "--admin-ui-password-hash", "changeit"], /admin-ui-password-hash: not a bcrypt hash/],
      [["--admin-ui", "true", "--admin-ui-password-hash", HASH.replace("$10$", "$03$")], /cost must be 4 to 31/],
      [[...UI_ARGS, "--admin-ui-mode", "dev"], /admin-ui-mode must be development or production/],
      [[...UI_ARGS, "--admin-ui-namespace", "/"], /admin-ui-namespace must be a namespace other than \//],
    ]) {
      const r = spawnSync(process.env.CHAT_SERVER, ["--check-config", ...args], { encoding: "utf8", timeout: 10000 });
      assert.strictEqual(r.status, 2, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, words);
      assert.strictEqual(r.stderr.trim().split("\n").length, 1, r.stderr);
    }
  });
});

describe("socket.io Admin UI over a cluster", { skip: harness.isReference() }, () => {
  let cluster, a, b;
  before(async () => {
    cluster = await startCluster(["a", "b"], { args: UI_ARGS });
    a = cluster.byName.a;
    b = cluster.byName.b;
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });

  it("a UI on one node sees both nodes' sockets, stats and events, and acts on either", { timeout: 60000 }, async () => {
    const onB = await h.connect(b.url, { transports: ["websocket"] });
    const ui = await connectedAdmin(a.url);
    const [all] = await seen(ui, "all_sockets");
    assert.ok(all.some((s) => s.id === onB.id), `b's socket in a's all_sockets: ${JSON.stringify(all.map((s) => [s.id, s.nsp]))} (b's: ${onB.id})`);
    // b watches at once (a told it), before its own count of admin sockets.
    const later = await h.connect(b.url, { transports: ["websocket"] });
    await seen(ui, "socket_connected", (s) => s.id === later.id, "a socket connecting to b");
    later.emit("join-room", "rb");
    await seen(ui, "room_joined", (nsp, room, id) => room === "rb" && id === later.id);
    // Each node sends its own server_stats.
    await seen(ui, "server_stats", (s) => s.serverId === "b", "b's server_stats");
    await seen(ui, "server_stats", (s) => s.serverId === "a", "a's server_stats");
    const gone = h.once(onB, "disconnect");
    const id = onB.id;
    ui.socket.emit("_disconnect", "/", false, id);
    assert.strictEqual((await gone)[0], "io server disconnect");
    await seen(ui, "socket_disconnected", (nsp, sid) => sid === id);
  });
});

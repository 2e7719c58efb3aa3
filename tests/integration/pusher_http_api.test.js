// Pusher's HTTP API (docs/chat-protocol.md, "Pusher HTTP API") driven by the npm `pusher`
// server library, which signs every request as a Laravel backend's does: events reach the
// Socket.IO sockets of the room named like the channel, channel queries see the same rooms
// and presence members, and each bad credential or payload is refused with Pusher's status.
// Requests the library would not send (bad signatures, bad payloads) are made by hand.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const { execFile } = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const Pusher = require("pusher");
const WebSocket = require("ws");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");
const { call } = require("./pusher_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const APP = { appId: "42", key: "app-key", secret: "app-secret" };
const PUSHER_ARGS = ["--pusher-app", `${APP.appId}:${APP.key}:${APP.secret}`];

function backend(server, overrides = {}) {
  return new Pusher({ ...APP, host: "127.0.0.1", port: server.port, useTLS: false, timeout: 5000, ...overrides });
}

/** Joins the conversations namespace's room `room` (joinRoom, acked). */
async function joinRoom(socket, room) {
  const [ack] = await h.emitAck(socket, "joinRoom", { room });
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

async function clientIn(server, rooms, auth) {
  const s = await c.chatConnect(server.url, { transports: ["websocket"], ...(auth ? { auth } : {}) });
  for (const room of rooms) await joinRoom(s, room);
  return s;
}

/**
 * A Pusher protocol 7 connection (the `ws` package, frames as Pusher's reference spells
 * them): resolves once connected with {socketId, events (every message, parsed), take(event,
 * channel), subscribe(channel), close()}.
 */
async function pusherSocket(server) {
  const ws = new WebSocket(`ws://127.0.0.1:${server.port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`);
  h.track(ws);
  const events = [];
  const waiters = [];
  ws.on("message", (raw) => {
    const msg = JSON.parse(raw.toString());
    events.push(msg);
    for (let i = 0; i < waiters.length; i++) {
      const idx = events.findIndex(waiters[i].match);
      if (idx >= 0) waiters.splice(i--, 1)[0].resolve(events.splice(idx, 1)[0]);
    }
  });
  const take = (event, channel) => {
    const match = (m) => m.event === event && (channel === undefined || m.channel === channel);
    const idx = events.findIndex(match);
    if (idx >= 0) return Promise.resolve(events.splice(idx, 1)[0]);
    return h.withTimeout(new Promise((resolve) => waiters.push({ match, resolve })), h.DEFAULT_TIMEOUT_MS, event);
  };
  const established = await take("pusher:connection_established");
  const socketId = JSON.parse(established.data).socket_id;
  const closed = new Promise((resolve) => ws.once("close", (code) => resolve(code)));
  return {
    socketId,
    events,
    take,
    closed,
    /** pusher:signin as `user`, signed like a backend's user authentication endpoint. */
    async signin(user) {
      const userData = JSON.stringify({ id: user });
      const sig = crypto.createHmac("sha256", APP.secret).update(`${socketId}::user::${userData}`).digest("hex");
      ws.send(JSON.stringify({ event: "pusher:signin", data: { auth: `${APP.key}:${sig}`, user_data: userData } }));
      await take("pusher:signin_success");
    },
    async subscribe(channel) {
      ws.send(JSON.stringify({ event: "pusher:subscribe", data: { channel } }));
      await take("pusher_internal:subscription_succeeded", channel);
    },
  };
}

/**
 * A request signed by hand as Pusher's reference describes it, with `tweak` changing the
 * parameters after (or instead of) signing.
 */
function signed(method, apiPath, { params = {}, body, secret = APP.secret, key = APP.key, timestamp, tweak } = {}) {
  const data = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const q = {
    auth_key: key,
    auth_timestamp: String(timestamp ?? Math.floor(Date.now() / 1000)),
    auth_version: "1.0",
    ...params,
  };
  if (data !== undefined) q.body_md5 = crypto.createHash("md5").update(data).digest("hex");
  const toSign = Object.keys(q)
    .sort()
    .map((k) => `${k}=${q[k]}`)
    .join("&");
  q.auth_signature = crypto.createHmac("sha256", secret).update(`${method}\n${apiPath}\n${toSign}`).digest("hex");
  if (tweak) tweak(q);
  // Signed as the path reads, sent percent-encoded (Pusher signs the unescaped path).
  return { method, path: `${encodeURI(apiPath)}?${new URLSearchParams(q)}`, data };
}

async function send(server, req) {
  const headers = req.data === undefined ? {} : { "Content-Type": "application/json" };
  const res = await h.request(`${server.url}${req.path}`, { method: req.method, headers, body: req.data });
  return res;
}

describe("Pusher HTTP API: publishing to the rooms", () => {
  afterEach(() => h.cleanup());

  it("an event triggered by the pusher library reaches the room's Socket.IO sockets, name and data", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const [inOrders, inOther, inBoth] = await Promise.all([
        clientIn(server, ["orders"]),
        clientIn(server, ["other"]),
        clientIn(server, ["orders", "other"]),
      ]);
      const pusher = backend(server);
      const res = await call(pusher.trigger("orders", "order.shipped", { id: 7, items: ["a"] }));
      assert.deepStrictEqual(res, { status: 200, json: {} });
      for (const s of [inOrders, inBoth]) {
        assert.deepStrictEqual(await s.inbox.take("order.shipped"), [{ id: 7, items: ["a"] }]);
      }
      // Data that is not JSON arrives as the string it is.
      assert.strictEqual((await call(pusher.trigger("orders", "note", "plain text"))).status, 200);
      assert.deepStrictEqual(await inOrders.inbox.take("note"), ["plain text"]);
      // Several channels: each socket once, even one in two of them.
      assert.strictEqual((await call(pusher.trigger(["orders", "other"], "everyone", { n: 1 }))).status, 200);
      for (const s of [inOrders, inOther, inBoth]) assert.deepStrictEqual(await s.inbox.take("everyone"), [{ n: 1 }]);
      await c.assertNone([inOther], ["order.shipped", "note"]);
      await c.assertNone([inBoth], "everyone");
    }),
  );

  it("Pusher subscribers of the channel get it too; socket_id keeps it from that connection", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const sio = await clientIn(server, ["orders"]);
      const [sender, other] = await Promise.all([pusherSocket(server), pusherSocket(server)]);
      await Promise.all([sender.subscribe("orders"), other.subscribe("orders")]);
      const pusher = backend(server);
      const res = await call(pusher.trigger("orders", "update", { v: 1 }, { socket_id: sender.socketId }));
      assert.strictEqual(res.status, 200);
      assert.deepStrictEqual(await sio.inbox.take("update"), [{ v: 1 }]);
      const got = await other.take("update", "orders");
      assert.deepStrictEqual(JSON.parse(got.data), { v: 1 });
      // Another socket id excludes nobody here.
      assert.strictEqual((await call(pusher.trigger("orders", "update", { v: 2 }, { socket_id: "1.1" }))).status, 200);
      assert.deepStrictEqual(JSON.parse((await sender.take("update", "orders")).data), { v: 2 });
      assert.deepStrictEqual(JSON.parse((await other.take("update", "orders")).data), { v: 2 });
      assert.deepStrictEqual(await sio.inbox.take("update"), [{ v: 2 }]);
      await h.delay(h.SETTLE_MS);
      assert.deepStrictEqual(
        sender.events.filter((m) => m.event === "update"),
        [],
        "the excluded connection got the event",
      );
    }),
  );

  it("batch_events publishes each event to its own channel", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const [a, b] = await Promise.all([clientIn(server, ["room-a"]), clientIn(server, ["room-b"])]);
      const pusher = backend(server);
      const res = await call(
        pusher.triggerBatch([
          { channel: "room-a", name: "first", data: { n: 1 } },
          { channel: "room-b", name: "second", data: "two" },
          { channel: "room-a", name: "third", data: { n: 3 }, socket_id: "9.9" },
        ]),
      );
      assert.deepStrictEqual(res, { status: 200, json: {} });
      assert.deepStrictEqual(await a.inbox.take("first"), [{ n: 1 }]);
      assert.deepStrictEqual(await a.inbox.take("third"), [{ n: 3 }]);
      assert.deepStrictEqual(await b.inbox.take("second"), ["two"]);
      // More than 10 events: refused, and none of them published.
      const eleven = Array.from({ length: 11 }, (_, i) => ({ channel: "room-a", name: "many", data: String(i) }));
      const refused = await call(pusher.triggerBatch(eleven));
      assert.strictEqual(refused.status, 400);
      // One bad event refuses the whole batch.
      const oneBad = await send(
        server,
        signed("POST", `/apps/${APP.appId}/batch_events`, {
          body: {
            batch: [
              { channel: "room-a", name: "many", data: "ok" },
              { channel: "bad channel", name: "x", data: "" },
            ],
          },
        }),
      );
      assert.strictEqual(oneBad.status, 400, oneBad.body);
      assert.match(oneBad.body, /batch\[1\]/);
      await c.assertNone([a, b], "many");
    }),
  );

  it("bad events are refused with Pusher's statuses and publish nothing", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const s = await clientIn(server, ["orders"]);
      const events = `/apps/${APP.appId}/events`;
      const cases = [
        [413, { name: "big", channel: "orders", data: "x".repeat(10 * 1024 + 1) }],
        [400, { name: "x".repeat(201), channel: "orders", data: "{}" }],
        [400, { channel: "orders", data: "{}" }],
        [400, { name: "e", channel: "orders", data: { not: "a string" } }],
        [400, { name: "e", data: "{}" }],
        [400, { name: "e", channel: "has space", data: "{}" }],
        [400, { name: "e", channel: "x".repeat(165), data: "{}" }],
        [400, { name: "e", channels: [], data: "{}" }],
        [400, { name: "e", channels: Array.from({ length: 101 }, (_, i) => `c${i}`), data: "{}" }],
        [400, { name: "e", channels: ["orders", 7], data: "{}" }],
        [400, { name: "e", channel: "orders", data: "{}", socket_id: "abc" }],
        [400, { name: "e", channel: "orders", data: "{}", socket_id: "1.2.3" }],
        [400, { name: "connect", channel: "orders", data: "{}" }],
        [400, "not json"],
        [400, [1, 2]],
      ];
      for (const [status, body] of cases) {
        const res = await send(server, signed("POST", events, { body }));
        assert.strictEqual(res.status, status, `${JSON.stringify(body).slice(0, 80)}: ${res.body}`);
      }
      // Exactly 10 KB and 200 characters pass.
      const limits = { name: "x".repeat(200), channel: "orders", data: "y".repeat(10240) };
      const ok = await send(server, signed("POST", events, { body: limits }));
      assert.strictEqual(ok.status, 200, ok.body);
      assert.deepStrictEqual(await s.inbox.take("x".repeat(200)), ["y".repeat(10240)]);
      await c.assertNone([s], ["big", "e", "connect"]);
    }),
  );
});

describe("Pusher HTTP API: request signing", () => {
  afterEach(() => h.cleanup());

  it("a bad signature, an old timestamp, another key or secret, a changed body: 401; unknown app: 404", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const s = await clientIn(server, ["orders"]);
      const events = `/apps/${APP.appId}/events`;
      const body = { name: "refused", channel: "orders", data: "{}" };
      const now = Math.floor(Date.now() / 1000);
      const flip = (q) => (q.auth_signature = (q.auth_signature[0] === "0" ? "1" : "0") + q.auth_signature.slice(1));
      const cases = [
        ["a flipped signature", 401, signed("POST", events, { body, tweak: flip })],
        ["no signature", 401, signed("POST", events, { body, tweak: (q) => delete q.auth_signature })],
        ["a timestamp 700 s old", 401, signed("POST", events, { body, timestamp: now - 700 })],
        ["a timestamp 700 s ahead", 401, signed("POST", events, { body, timestamp: now + 700 })],
        ["another secret", 401, signed("POST", events, { body, secret: "not-the-secret" })],
        ["another key", 401, signed("POST", events, { body, key: "other-key" })],
        ["a parameter added after signing", 401, signed("POST", events, { body, tweak: (q) => (q.x = "1") })],
        ["a wrong body_md5", 401, signed("POST", events, { body, tweak: (q) => (q.body_md5 = "0".repeat(32)) })],
        ["no body_md5", 401, signed("POST", events, { body, tweak: (q) => delete q.body_md5 })],
        ["auth_version 2.0", 401, signed("POST", events, { body, params: { auth_version: "2.0" } })],
        ["an unknown app id", 404, signed("POST", "/apps/43/events", { body })],
      ];
      for (const [what, status, req] of cases) {
        const res = await send(server, req);
        assert.strictEqual(res.status, status, `${what}: ${res.body}`);
      }
      // A body changed after signing.
      const tampered = signed("POST", events, { body });
      tampered.data = JSON.stringify({ ...body, data: '{"evil":1}' });
      assert.strictEqual((await send(server, tampered)).status, 401);
      // The same refusals through the library: its own key or secret wrong, another app id.
      for (const [overrides, status] of [[{ key: "other-key" }, 401], [{ secret: "nope" }, 401], [{ appId: "43" }, 404]]) {
        const res = await call(backend(server, overrides).trigger("orders", "refused", {}));
        assert.strictEqual(res.status, status, JSON.stringify(overrides));
      }
      await c.assertNone([s], "refused");
      // And the right credentials still work.
      const accepted = await send(server, signed("POST", events, { body: { ...body, name: "accepted" } }));
      assert.strictEqual(accepted.status, 200);
      await s.inbox.take("accepted");
    }),
  );

  it("unknown paths are 404 and known ones with another method 405, before credentials", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      for (const p of ["/apps/42/nothing", "/apps/42/events/more", "/apps/42", "/apps/", "/apps/42/channels/a/b"]) {
        const res = await h.request(`${server.url}${p}`);
        assert.strictEqual(res.status, 404, `${p}: ${res.body}`);
      }
      const get = await h.request(`${server.url}/apps/42/events`);
      assert.strictEqual(get.status, 405);
      assert.strictEqual(get.headers.allow, "POST");
      const del = await h.request(`${server.url}/apps/42/channels`, { method: "DELETE" });
      assert.strictEqual(del.status, 405);
      assert.strictEqual(del.headers.allow, "GET");
    }),
  );

  it("without a pusher-app, /apps/ is not served", TEST_TIMEOUT, () =>
    c.withChat([], async (server) => {
      const body = { name: "e", channel: "c", data: "" };
      const res = await send(server, signed("POST", `/apps/${APP.appId}/events`, { body }));
      assert.strictEqual(res.status, 404);
    }),
  );
});

describe("Pusher HTTP API: channels, presence users and terminate_connections", () => {
  afterEach(() => h.cleanup());

  it("channels lists the rooms by prefix, with user_count for presence channels", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      // Two users in presence-lobby, one of them with two sockets; one in orders.
      await Promise.all([
        clientIn(server, ["presence-lobby"], { userId: "u1" }),
        clientIn(server, ["presence-lobby"], { userId: "u1" }),
        clientIn(server, ["presence-lobby", "orders"], { userId: "u2" }),
      ]);
      const pusher = backend(server);
      const all = await call(pusher.get({ path: "/channels" }));
      assert.strictEqual(all.status, 200);
      assert.deepStrictEqual(all.json.channels.orders, {});
      assert.deepStrictEqual(all.json.channels["presence-lobby"], {});
      const params = { filter_by_prefix: "presence-", info: "user_count" };
      const presence = await call(pusher.get({ path: "/channels", params }));
      assert.deepStrictEqual(presence, { status: 200, json: { channels: { "presence-lobby": { user_count: 2 } } } });
      const none = await call(pusher.get({ path: "/channels", params: { filter_by_prefix: "nothing-" } }));
      assert.deepStrictEqual(none, { status: 200, json: { channels: {} } });
      // user_count needs the presence- prefix; unknown attributes are refused.
      assert.strictEqual((await call(pusher.get({ path: "/channels", params: { info: "user_count" } }))).status, 400);
      assert.strictEqual((await call(pusher.get({ path: "/channels", params: { info: "colour" } }))).status, 400);
    }),
  );

  it("one channel: occupied, user_count and subscription_count; its users for presence", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      await Promise.all([
        clientIn(server, ["presence-lobby"], { userId: "u1" }),
        clientIn(server, ["presence-lobby"], { userId: "u1" }),
        clientIn(server, ["presence-lobby", "orders"], { userId: "u2" }),
      ]);
      const pusher = backend(server);
      const both = { info: "user_count,subscription_count" };
      const lobby = await call(pusher.get({ path: "/channels/presence-lobby", params: both }));
      assert.deepStrictEqual(lobby, { status: 200, json: { occupied: true, user_count: 2, subscription_count: 3 } });
      const orders = await call(pusher.get({ path: "/channels/orders" }));
      assert.deepStrictEqual(orders, { status: 200, json: { occupied: true } });
      const empty = await call(pusher.get({ path: "/channels/empty-room", params: { info: "subscription_count" } }));
      assert.deepStrictEqual(empty, { status: 200, json: { occupied: false, subscription_count: 0 } });
      const notPresence = await call(pusher.get({ path: "/channels/orders", params: { info: "user_count" } }));
      assert.strictEqual(notPresence.status, 400);
      const users = await call(pusher.get({ path: "/channels/presence-lobby/users" }));
      assert.strictEqual(users.status, 200);
      assert.deepStrictEqual(users.json.users.map((u) => u.id).sort(), ["u1", "u2"]);
      assert.strictEqual((await call(pusher.get({ path: "/channels/orders/users" }))).status, 400);
      const bad = await send(server, signed("GET", `/apps/${APP.appId}/channels/bad name`));
      assert.strictEqual(bad.status, 400, bad.body);
    }),
  );

  it("terminate_connections closes the user's Pusher connections and answers {}", TEST_TIMEOUT, () =>
    c.withChat(PUSHER_ARGS, async (server) => {
      const [u1, u1Again, u2] = await Promise.all([pusherSocket(server), pusherSocket(server), pusherSocket(server)]);
      await Promise.all([u1.signin("u1"), u1Again.signin("u1"), u2.signin("u2")]);
      const res = await call(backend(server).terminateUserConnections("u1"));
      assert.deepStrictEqual(res, { status: 200, json: {} });
      for (const conn of [u1, u1Again]) {
        const error = await conn.take("pusher:error");
        assert.strictEqual((typeof error.data === "string" ? JSON.parse(error.data) : error.data).code, 4009);
        assert.strictEqual(await h.withTimeout(conn.closed, h.DEFAULT_TIMEOUT_MS, "close"), 4009);
      }
      await h.delay(h.SETTLE_MS);
      assert.deepStrictEqual(u2.events.filter((m) => m.event === "pusher:error"), []);
      const userPath = `/apps/${APP.appId}/users/${"u".repeat(201)}/terminate_connections`;
      const tooLong = await send(server, signed("POST", userPath, { body: {} }));
      assert.strictEqual(tooLong.status, 400);
    }),
  );
});

describe("the pusher-app setting", () => {
  afterEach(() => h.cleanup());

  function run(args, env = {}) {
    return new Promise((resolve) => {
      const opts = { env: { ...process.env, ...env }, timeout: 5000 };
      execFile(process.env.CHAT_SERVER, ["--app", "chat", "--port", "0", ...args], opts, (err, _stdout, stderr) =>
        resolve({ code: err ? err.code : 0, stderr }),
      );
    });
  }

  it("a malformed or repeated app is refused, naming the setting without its secret", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return;
    const cases = [
      [["--pusher-app", "1:k"], /pusher-app 1:k: expected ID:KEY:SECRET/],
      [["--pusher-app", "1:k:topsecret;colour=blue"], /pusher-app 1:k:<secret>;colour=blue: unknown option 'colour'/],
      [["--pusher-app", "1:k:topsecret;activity-timeout=0"], /activity-timeout/],
      [["--pusher-app", "1:k:topsecret", "--pusher-app", "1:k2:s2"], /app id '1' is given twice/],
      [["--pusher-app", "1:k:topsecret", "--pusher-app", "2:k:s2"], /app key 'k' is given twice/],
    ];
    for (const [args, re] of cases) {
      const { code, stderr } = await run(args);
      assert.strictEqual(code, 2, `${args.join(" ")}: ${stderr}`);
      assert.match(stderr, re);
      assert.ok(!stderr.includes("topsecret"), `the secret was printed: ${stderr}`);
    }
    const env = await run([], { CHAT_PUSHER_APP: "bad" });
    assert.strictEqual(env.code, 2);
    assert.match(env.stderr, /pusher-app bad: expected ID:KEY:SECRET/);
  });

  it("apps come from the config file (one line each) and the environment", TEST_TIMEOUT, async () => {
    if (harness.isReference()) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chat-pusher-"));
    const file = path.join(dir, "chat.conf");
    fs.writeFileSync(
      file,
      "pusher-app = 1:key1:secret1;activity-timeout=60\npusher-app = 2:key2:secret2;origins=http://a|http://b\n",
    );
    process.env.CHAT_PUSHER_APP = "3:key3:secret3";
    let server;
    try {
      server = await c.startChat(["--config", file]);
      const s = await clientIn(server, ["orders"]);
      for (const appId of ["1", "2", "3"]) {
        const [key, secret] = [`key${appId}`, `secret${appId}`];
        const res = await call(backend(server, { appId, key, secret }).trigger("orders", `from-${appId}`, {}));
        assert.strictEqual(res.status, 200, `app ${appId}: ${res.body}`);
        await s.inbox.take(`from-${appId}`);
      }
    } finally {
      delete process.env.CHAT_PUSHER_APP;
      await h.cleanup();
      if (server) await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

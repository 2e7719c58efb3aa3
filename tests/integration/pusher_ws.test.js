// The Pusher Channels protocol 7 at ws://host/app/{key} with the real pusher-js 8 client
// in Node (and raw `ws` frames where bytes matter): connection, public / private /
// presence / encrypted channels, client events, errors as the protocol names them.
// Publishers: the npm `pusher` server library through our HTTP API, /api/emit and a
// Socket.IO client in the room of the same name.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const crypto = require("node:crypto");
const h = require("./helpers");
const c = require("./chat_helpers");
const harness = require("./harness");
const p = require("./pusher_helpers");

// The reference fixture (socket.io's echo) has no chat app and no Pusher apps.
if (harness.isReference()) return;

const T = { timeout: 20000 };
const alice = { user_id: "u-alice", user_info: { name: "Alice" } };
const bob = { user_id: "u-bob", user_info: { name: "Bob" } };

describe("pusher-js: connection", () => {
  afterEach(() => p.cleanup());

  it("connects and gets a socket_id of the form N.N", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      assert.match(client.connection.socket_id, p.SOCKET_ID_RE);
      const other = await p.connectedClient(server);
      assert.notStrictEqual(other.connection.socket_id, client.connection.socket_id);
    }),
  );

  it("pusher:connection_established carries its data as a JSON string {socket_id, activity_timeout}", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawPusher(server);
      const est = await ws.frames.take(p.frame("pusher:connection_established"), "pusher:connection_established");
      assert.strictEqual(typeof est.rawData, "string", `data should be a JSON-encoded string: ${est.text}`);
      assert.match(est.data.socket_id, p.SOCKET_ID_RE);
      assert.ok(Number.isInteger(est.data.activity_timeout) && est.data.activity_timeout > 0, est.text);
    }),
  );

  it("an unknown app key: pusher:error 4001, the connection closed (pusher-js gives up)", T, () =>
    p.withPusher([], async (server) => {
      const client = p.pusherClient(server, { key: "no-such-key" });
      await h.waitFor(() => client.errors.length > 0, 5000, "a pusher-js connection error");
      assert.ok(client.errors.some((e) => p.errorCode(e) === 4001), JSON.stringify(client.errors));
      // 4000-4099: "do not reconnect with the same parameters"; pusher-js disconnects.
      await h.waitFor(() => client.connection.state === "disconnected", 3000, "state disconnected");

      const ws = await p.rawPusher(server, { key: "no-such-key" });
      const e = await ws.frames.take(p.frame("pusher:error"), "pusher:error");
      assert.strictEqual(e.data.code, 4001, e.text);
      assert.strictEqual(typeof e.data.message, "string");
      const closed = await h.withTimeout(ws.closed, 3000, "close after 4001");
      assert.strictEqual(closed.code, 4001);
    }),
  );

  it("pusher:ping is answered with pusher:pong", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      ws.sendFrame({ event: "pusher:ping", data: {} });
      const pong = await ws.frames.take(p.frame("pusher:pong"), "pusher:pong");
      assert.strictEqual(pong.channel, undefined, pong.text);
      // pusher-js sends `"data":{}`; some clients send no data at all.
      ws.sendFrame({ event: "pusher:ping" });
      await ws.frames.take(p.frame("pusher:pong"), "pusher:pong for a ping without data");
    }),
  );

  it("the app's activity timeout: announced, and a silent client is pinged; its pong keeps it open", T, () =>
    p.withPusher(
      [],
      async (server) => {
        const ws = await p.rawConnected(server);
        assert.strictEqual(ws.established.data.activity_timeout, 1, ws.established.text);
        await ws.frames.take(p.frame("pusher:ping"), "a server pusher:ping after 1 s of silence", 5000);
        ws.sendFrame({ event: "pusher:pong", data: {} });
        await h.delay(1500);
        assert.strictEqual(ws.readyState, h.WebSocket.OPEN, `closed after answering the ping: ${ws.frames.describe()}`);
        await p.assertPong(ws);
      },
      { app: `${p.APP_ARG};activity-timeout=1` },
    ),
  );

  it("a client that does not answer the server's pusher:ping is closed with 4201", T, () =>
    p.withPusher(
      [],
      async (server) => {
        const ws = await p.rawConnected(server);
        await ws.frames.take(p.frame("pusher:ping"), "a server pusher:ping after 1 s of silence", 5000);
        // No pong: with activity-timeout=1 the server waits 1 s more, then closes.
        const closed = await h.withTimeout(ws.closed, 5000, "the close after an unanswered ping");
        assert.strictEqual(closed.code, 4201, JSON.stringify(closed));
        const err = await ws.frames.take(p.frame("pusher:error"), "pusher:error before the close");
        assert.strictEqual(err.data.code, 4201, err.text);
      },
      { app: `${p.APP_ARG};activity-timeout=1` },
    ),
  );

  it("max-connections: the connection past the app's limit gets pusher:error 4100 and is closed", T, () =>
    p.withPusher(
      [],
      async (server) => {
        await p.rawConnected(server);
        await p.rawConnected(server);
        const third = await p.rawPusher(server);
        const e = await third.frames.take(p.frame("pusher:error"), "pusher:error 4100");
        assert.strictEqual(e.data.code, 4100, e.text);
        const closed = await h.withTimeout(third.closed, 3000, "close after 4100");
        assert.strictEqual(closed.code, 4100);
      },
      { app: `${p.APP_ARG};max-connections=2` },
    ),
  );

  it("the app's origins: another Origin is refused (pusher:error 4009, closed), a listed one connects", T, () =>
    p.withPusher(
      [],
      async (server) => {
        const evil = await p.rawPusher(server, { headers: { Origin: "http://evil.example" } });
        const e = await evil.frames.take(p.frame("pusher:error"), "pusher:error 4009");
        assert.strictEqual(e.data.code, 4009, e.text);
        const closed = await h.withTimeout(evil.closed, 3000, "close after 4009");
        assert.strictEqual(closed.code, 4009);
        const good = await p.rawConnected(server, { headers: { Origin: "http://good.example" } });
        await p.assertPong(good);
      },
      { app: `${p.APP_ARG};origins=http://good.example|http://other.example` },
    ),
  );
});

describe("pusher-js: public channels", () => {
  afterEach(() => p.cleanup());

  it("subscribes and receives an event published by the npm pusher library (HTTP API)", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      const ch = await p.subscribed(client, "news");
      const events = p.channelInbox(ch);
      await p.serverLib(server).trigger("news", "headline", { title: "hello", n: 1 });
      const got = await events.take((e) => e.event === "headline", "headline");
      assert.deepStrictEqual(got.data, { title: "hello", n: 1 });
    }),
  );

  it("receives what /api/emit sends to the room of the same name", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      const ch = await p.subscribed(client, "news");
      const events = p.channelInbox(ch);
      await p.apiEmit(server, "news", "headline", { title: "from the backend API" });
      const got = await events.take((e) => e.event === "headline", "headline");
      assert.deepStrictEqual(got.data, { title: "from the backend API" });
    }),
  );

  it("receives a Socket.IO broadcast to the room of the same name (sendMessage -> receiveMessage)", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      const ch = await p.subscribed(client, "conv-42");
      const events = p.channelInbox(ch);
      const sio = await c.chatConnect(server.url, { transports: ["websocket"] });
      const [joined] = await h.emitAck(sio, "joinRoom", { room: "conv-42" });
      assert.strictEqual(joined.status, "ok", JSON.stringify(joined));
      const [ack] = await h.emitAck(sio, "sendMessage", {
        conversationId: "conv-42",
        senderId: "u1",
        content: "hi pusher",
        type: "text",
      });
      assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      const got = await events.take((e) => e.event === "receiveMessage", "receiveMessage");
      assert.strictEqual(got.data.conversationId, "conv-42");
      assert.strictEqual(got.data.message.content, "hi pusher");
      assert.strictEqual(got.data.message.senderId, "u1");
    }),
  );

  it("the raw frame of a channel event: {event, channel, data: JSON string}", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const sub = await p.rawSubscribe(ws, "news");
      assert.strictEqual(sub.event, "pusher_internal:subscription_succeeded", sub.text);
      await p.serverLib(server).trigger("news", "headline", { title: "raw" });
      const f = await ws.frames.take(p.frame("headline", "news"), "headline");
      assert.strictEqual(typeof f.rawData, "string", `data should be a JSON-encoded string: ${f.text}`);
      assert.deepStrictEqual(f.data, { title: "raw" });
    }),
  );

  it("after pusher:unsubscribe no more events of that channel arrive", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      await p.rawSubscribe(ws, "news");
      ws.sendFrame({ event: "pusher:unsubscribe", data: { channel: "news" } });
      await p.assertPong(ws); // the unsubscribe was handled before the ping
      await p.apiEmit(server, "news", "headline", { late: true });
      await ws.frames.none(p.frame("headline"), "an event after unsubscribing", 500);
    }),
  );

  it("the pusher library signing with another secret or another app id is refused (401 / 404), nothing delivered", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      const events = p.channelInbox(await p.subscribed(client, "news"));
      const wrongSecret = p.serverLib(server, { app: { ...p.APP, secret: "not-the-secret" } });
      const e1 = await wrongSecret.trigger("news", "headline", { forged: true }).then(
        () => assert.fail("a request signed with the wrong secret was accepted"),
        (err) => err,
      );
      assert.strictEqual(e1.status, 401, `${e1.message} ${e1.body}`);
      const wrongKey = p.serverLib(server, { app: { ...p.APP, key: "other-key" } });
      const e2 = await wrongKey.trigger("news", "headline", { forged: true }).then(
        () => assert.fail("a request with another auth_key was accepted"),
        (err) => err,
      );
      assert.strictEqual(e2.status, 401, `${e2.message} ${e2.body}`);
      const wrongApp = p.serverLib(server, { app: { ...p.APP, id: "999" } });
      const e3 = await wrongApp.trigger("news", "headline", { forged: true }).then(
        () => assert.fail("a request to an unknown app id was accepted"),
        (err) => err,
      );
      assert.ok([401, 404].includes(e3.status), `${e3.status} ${e3.message} ${e3.body}`);
      await events.none((e) => e.event === "headline", "an event of a refused request");
    }),
  );

  it("the HTTP API's socket_id leaves that connection out", T, () =>
    p.withPusher([], async (server) => {
      const [a, b] = await Promise.all([p.connectedClient(server), p.connectedClient(server)]);
      const [cha, chb] = await Promise.all([p.subscribed(a, "news"), p.subscribed(b, "news")]);
      const [ea, eb] = [p.channelInbox(cha), p.channelInbox(chb)];
      await p.serverLib(server).trigger("news", "headline", { n: 1 }, { socket_id: a.connection.socket_id });
      await eb.take((e) => e.event === "headline", "headline on b");
      await ea.none((e) => e.event === "headline", "the event its socket_id excluded");
    }),
  );
});

describe("pusher-js: private channels", () => {
  afterEach(() => p.cleanup());

  it("our signer agrees with the pusher library's authorizeChannel (the test's own check)", () => {
    const lib = new p.PusherServer({ appId: p.APP.id, key: p.APP.key, secret: p.APP.secret });
    assert.deepStrictEqual(p.channelAuth("123.456", "private-x"), lib.authorizeChannel("123.456", "private-x"));
    assert.deepStrictEqual(
      p.channelAuth("123.456", "presence-x", alice),
      lib.authorizeChannel("123.456", "presence-x", alice),
    );
  });

  it("with a correct signature the subscription succeeds and events arrive", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      const ch = await p.subscribed(client, "private-orders.1");
      const events = p.channelInbox(ch);
      await p.serverLib(server).trigger("private-orders.1", "order.shipped", { id: 1 });
      const got = await events.take((e) => e.event === "order.shipped", "order.shipped");
      assert.deepStrictEqual(got.data, { id: 1 });
    }),
  );

  it("a wrong signature: pusher:subscription_error on the channel, and no events reach it", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server, {
        authorize: (params, cb) => cb(null, { auth: `${p.APP.key}:${p.hmacHex("wrong-secret", `${params.socketId}:${params.channelName}`)}` }),
      });
      const ch = client.subscribe("private-orders.1");
      const events = p.channelInbox(ch);
      const err = await events.take((e) => e.event === "pusher:subscription_error", "pusher:subscription_error");
      assert.ok(err.data !== undefined, "subscription_error without data");
      assert.strictEqual(client.connection.state, "connected");
      await p.apiEmit(server, "private-orders.1", "order.shipped", { id: 1 });
      await events.none((e) => e.event === "order.shipped", "an event of a refused subscription", 500);
    }),
  );

  it("a signature for another socket_id or another channel is refused", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const otherSocket = await p.rawSubscribe(ws, "private-a", p.channelAuth("1.1", "private-a"));
      assert.strictEqual(otherSocket.event, "pusher:subscription_error", otherSocket.text);
      const otherChannel = await p.rawSubscribe(ws, "private-a", p.channelAuth(ws.socketId, "private-b"));
      assert.strictEqual(otherChannel.event, "pusher:subscription_error", otherChannel.text);
      const otherKey = await p.rawSubscribe(ws, "private-a", {
        auth: `other-key:${p.hmacHex(p.APP.secret, `${ws.socketId}:private-a`)}`,
      });
      assert.strictEqual(otherKey.event, "pusher:subscription_error", otherKey.text);
      const good = await p.rawSubscribe(ws, "private-a", p.channelAuth(ws.socketId, "private-a"));
      assert.strictEqual(good.event, "pusher_internal:subscription_succeeded", good.text);
    }),
  );

  it("without auth: pusher:subscription_error naming the channel; the connection keeps working", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const answer = await p.rawSubscribe(ws, "private-orders.1");
      assert.strictEqual(answer.event, "pusher:subscription_error", answer.text);
      assert.strictEqual(answer.channel, "private-orders.1");
      const empty = await p.rawSubscribe(ws, "private-orders.1", { auth: "" });
      assert.strictEqual(empty.event, "pusher:subscription_error", empty.text);
      await p.assertPong(ws);
    }),
  );

  it("private-encrypted-: the npm pusher library's encrypted event reaches pusher-js, which decrypts it", T, () =>
    p.withPusher([], async (server) => {
      const masterKey = crypto.randomBytes(32).toString("base64");
      const lib = p.serverLib(server, { options: { encryptionMasterKeyBase64: masterKey } });
      const channel = "private-encrypted-vault";
      // The library's own authorizeChannel adds the shared_secret pusher-js decrypts with.
      const client = await p.connectedClient(server, {
        authorize: (params, cb) => cb(null, lib.authorizeChannel(params.socketId, params.channelName)),
      });
      const ch = await p.subscribed(client, channel);
      const events = p.channelInbox(ch);
      await lib.trigger(channel, "secret", { code: 1234 });
      const got = await events.take((e) => e.event === "secret", "the decrypted event");
      assert.deepStrictEqual(got.data, { code: 1234 });
      // The server relays the payload opaque: the frame holds ciphertext, not the data.
      const raw = await client.messages.take(p.frame("secret", channel), "the encrypted frame");
      assert.ok(raw.data.ciphertext && raw.data.nonce, JSON.stringify(raw));
    }),
  );
});

describe("pusher-js: presence channels", () => {
  afterEach(() => p.cleanup());

  it("subscription_succeeded carries {presence:{ids, hash, count}}; member_added / member_removed reach the others", T, () =>
    p.withPusher([], async (server) => {
      const a = await p.connectedClient(server, { member: alice });
      const cha = await p.subscribed(a, "presence-room");
      const first = await a.messages.take(p.frame("pusher_internal:subscription_succeeded", "presence-room"), "succeeded");
      assert.deepStrictEqual(first.data, {
        presence: { ids: ["u-alice"], hash: { "u-alice": { name: "Alice" } }, count: 1 },
      });
      assert.strictEqual(cha.members.count, 1);
      assert.deepStrictEqual(cha.members.me, { id: "u-alice", info: { name: "Alice" } });

      const added = new Promise((resolve) => cha.bind("pusher:member_added", resolve));
      const b = await p.connectedClient(server, { member: bob });
      const chb = await p.subscribed(b, "presence-room");
      const second = await b.messages.take(p.frame("pusher_internal:subscription_succeeded", "presence-room"), "succeeded");
      assert.deepStrictEqual([...second.data.presence.ids].sort(), ["u-alice", "u-bob"]);
      assert.deepStrictEqual(second.data.presence.hash, { "u-alice": { name: "Alice" }, "u-bob": { name: "Bob" } });
      assert.strictEqual(second.data.presence.count, 2);
      assert.strictEqual(chb.members.count, 2);
      const member = await h.withTimeout(added, 3000, "pusher:member_added on alice");
      assert.deepStrictEqual(member, { id: "u-bob", info: { name: "Bob" } });
      // The raw member_added frame: data {user_id, user_info}.
      const raw = await a.messages.take(p.frame("pusher_internal:member_added", "presence-room"), "member_added");
      assert.deepStrictEqual(
        { user_id: raw.data.user_id, user_info: raw.data.user_info },
        { user_id: "u-bob", user_info: { name: "Bob" } },
        JSON.stringify(raw.data),
      );
      await b.messages.none(p.frame("pusher_internal:member_added"), "its own member_added");

      const removed = new Promise((resolve) => cha.bind("pusher:member_removed", resolve));
      b.unsubscribe("presence-room");
      const gone = await h.withTimeout(removed, 3000, "pusher:member_removed on alice");
      assert.strictEqual(gone.id, "u-bob");
      assert.strictEqual(cha.members.count, 1);
      const rawGone = await a.messages.take(p.frame("pusher_internal:member_removed", "presence-room"), "member_removed");
      assert.strictEqual(rawGone.data.user_id, "u-bob");
    }),
  );

  it("a user with two connections is counted once, and removed when its last one leaves", T, () =>
    p.withPusher([], async (server) => {
      const watcher = await p.connectedClient(server, { member: bob });
      const chw = await p.subscribed(watcher, "presence-room");
      const a1 = await p.connectedClient(server, { member: alice });
      await p.subscribed(a1, "presence-room");
      await watcher.messages.take(p.frame("pusher_internal:member_added", "presence-room"), "member_added for alice");
      const a2 = await p.connectedClient(server, { member: alice });
      const cha2 = await p.subscribed(a2, "presence-room");
      const succ = await a2.messages.take(p.frame("pusher_internal:subscription_succeeded", "presence-room"), "succeeded");
      assert.strictEqual(succ.data.presence.count, 2, JSON.stringify(succ.data));
      assert.deepStrictEqual([...succ.data.presence.ids].sort(), ["u-alice", "u-bob"]);
      assert.strictEqual(cha2.members.count, 2);
      await watcher.messages.none(p.frame("pusher_internal:member_added"), "a second member_added for alice's second connection");
      assert.strictEqual(chw.members.count, 2);

      a1.disconnect();
      await watcher.messages.none(p.frame("pusher_internal:member_removed"), "member_removed while alice still has a connection", 600);
      a2.disconnect();
      const gone = await watcher.messages.take(p.frame("pusher_internal:member_removed", "presence-room"), "member_removed");
      assert.strictEqual(gone.data.user_id, "u-alice");
    }),
  );

  it("refused: channel_data missing, not JSON, without user_id, or not the data signed", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const ch = "presence-room";
      const noData = await p.rawSubscribe(ws, ch, p.channelAuth(ws.socketId, ch));
      assert.strictEqual(noData.event, "pusher:subscription_error", `without channel_data: ${noData.text}`);
      const notJson = "not json";
      const bad = await p.rawSubscribe(ws, ch, {
        auth: `${p.APP.key}:${p.hmacHex(p.APP.secret, `${ws.socketId}:${ch}:${notJson}`)}`,
        channel_data: notJson,
      });
      assert.strictEqual(bad.event, "pusher:subscription_error", `channel_data not JSON: ${bad.text}`);
      const noUser = p.channelAuth(ws.socketId, ch, { user_info: { name: "x" } });
      const anon = await p.rawSubscribe(ws, ch, noUser);
      assert.strictEqual(anon.event, "pusher:subscription_error", `channel_data without user_id: ${anon.text}`);
      const signed = p.channelAuth(ws.socketId, ch, alice);
      const swapped = await p.rawSubscribe(ws, ch, { auth: signed.auth, channel_data: JSON.stringify(bob) });
      assert.strictEqual(swapped.event, "pusher:subscription_error", `channel_data other than signed: ${swapped.text}`);
      await p.assertPong(ws);
      const good = await p.rawSubscribe(ws, ch, signed);
      assert.strictEqual(good.event, "pusher_internal:subscription_succeeded", good.text);
    }),
  );
});

describe("pusher-js: client events", () => {
  afterEach(() => p.cleanup());

  it("private: client-* reaches the other subscribers, never the sender", T, () =>
    p.withPusher([], async (server) => {
      const clients = await Promise.all([1, 2, 3].map(() => p.connectedClient(server)));
      const chs = await Promise.all(clients.map((cl) => p.subscribed(cl, "private-chat.9")));
      const inboxes = chs.map(p.channelInbox);
      assert.strictEqual(chs[0].trigger("client-typing", { who: "first" }), true);
      for (const ib of inboxes.slice(1)) {
        const got = await ib.take((e) => e.event === "client-typing", "client-typing");
        assert.deepStrictEqual(got.data, { who: "first" });
      }
      await inboxes[0].none((e) => e.event === "client-typing", "its own client event");
    }),
  );

  it("presence: client-* reaches the others with the sender's user_id, never the sender", T, () =>
    p.withPusher([], async (server) => {
      const a = await p.connectedClient(server, { member: alice });
      const b = await p.connectedClient(server, { member: bob });
      const [cha, chb] = [await p.subscribed(a, "presence-room"), await p.subscribed(b, "presence-room")];
      const got = new Promise((resolve) => chb.bind("client-typing", (data, metadata) => resolve({ data, metadata })));
      const events = p.channelInbox(cha);
      cha.trigger("client-typing", { typing: true });
      const { data, metadata } = await h.withTimeout(got, 3000, "client-typing on bob");
      assert.deepStrictEqual(data, { typing: true });
      assert.deepStrictEqual(metadata, { user_id: "u-alice" });
      await events.none((e) => e.event === "client-typing", "its own client event");
    }),
  );

  it("public: a client event is refused with pusher:error and reaches no one; the connection stays", T, () =>
    p.withPusher([], async (server) => {
      const [a, b] = await Promise.all([p.connectedClient(server), p.connectedClient(server)]);
      const [cha, chb] = await Promise.all([p.subscribed(a, "news"), p.subscribed(b, "news")]);
      const events = p.channelInbox(chb);
      cha.trigger("client-typing", { typing: true });
      const err = await a.messages.take(p.frame("pusher:error"), "pusher:error");
      assert.strictEqual(typeof err.data.message, "string", JSON.stringify(err));
      await events.none((e) => e.event === "client-typing", "a client event on a public channel");
      assert.strictEqual(a.connection.state, "connected");
      await p.subscribed(a, "news-2"); // still serves the connection
    }),
  );

  it("refused: to a channel the sender has not subscribed, or a name without client-", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const other = await p.rawConnected(server);
      const sub = await p.rawSubscribe(other, "private-x", p.channelAuth(other.socketId, "private-x"));
      assert.strictEqual(sub.event, "pusher_internal:subscription_succeeded", sub.text);
      ws.sendFrame({ event: "client-typing", channel: "private-x", data: { sneaky: true } });
      const e1 = await ws.frames.take(p.frame("pusher:error"), "pusher:error for a channel not subscribed");
      assert.strictEqual(typeof e1.data.message, "string", e1.text);
      await other.frames.none(p.frame("client-typing"), "a client event from a non-subscriber");
      const mine = await p.rawSubscribe(ws, "private-x", p.channelAuth(ws.socketId, "private-x"));
      assert.strictEqual(mine.event, "pusher_internal:subscription_succeeded", mine.text);
      ws.sendFrame({ event: "typing", channel: "private-x", data: {} });
      const e2 = await ws.frames.take(p.frame("pusher:error"), "pusher:error for an event without client-");
      assert.strictEqual(typeof e2.data.message, "string", e2.text);
      await other.frames.none(p.frame("typing"), "a non-client event from a client");
      await p.assertPong(ws);
    }),
  );
});

describe("pusher-js: user authentication (pusher:signin)", () => {
  afterEach(() => p.cleanup());

  /** A pusher-js client that signs in as user `id` with what the pusher library signs. */
  async function signedIn(server, id) {
    const lib = p.serverLib(server);
    const client = await p.connectedClient(server, {
      userAuthentication: {
        customHandler: (params, cb) => cb(null, lib.authenticateUser(params.socketId, { id, user_info: { name: id } })),
      },
    });
    client.signin();
    const ok = await client.messages.take(p.frame("pusher:signin_success"), "pusher:signin_success");
    assert.deepStrictEqual(JSON.parse(ok.data.user_data), { id, user_info: { name: id } });
    // pusher-js then subscribes to the user's own #server-to-user-{id} channel, which
    // signin joined: answered as a success, never an error in the client's console.
    const answer = await client.messages.take(
      (f) =>
        f.channel === `#server-to-user-${id}` &&
        ["pusher_internal:subscription_succeeded", "pusher:subscription_error"].includes(f.event),
      `the answer to subscribing #server-to-user-${id}`,
    );
    assert.strictEqual(answer.event, "pusher_internal:subscription_succeeded", answer.text);
    return client;
  }

  it("signin succeeds and the library's sendToUser reaches each of the user's connections", T, () =>
    p.withPusher([], async (server) => {
      const [a1, a2, b] = [await signedIn(server, "u-alice"), await signedIn(server, "u-alice"), await signedIn(server, "u-bob")];
      const got = [a1, a2, b].map((cl) => {
        const ib = new p.Inbox("user events");
        cl.user.bind("notice", (d) => ib.push(d));
        return ib;
      });
      await p.serverLib(server).sendToUser("u-alice", "notice", { n: 1 });
      assert.deepStrictEqual(await got[0].take(() => true, "notice on alice's first connection"), { n: 1 });
      assert.deepStrictEqual(await got[1].take(() => true, "notice on alice's second connection"), { n: 1 });
      await got[2].none(() => true, "alice's notice on bob");
    }),
  );

  it("another user's #server-to-user- channel cannot be subscribed", T, () =>
    p.withPusher([], async (server) => {
      await signedIn(server, "u-alice");
      const ws = await p.rawConnected(server);
      const answer = await p.rawSubscribe(ws, "#server-to-user-u-alice");
      assert.strictEqual(answer.event, "pusher:subscription_error", answer.text);
    }),
  );

  it("a signin with a wrong signature: pusher:error 4009 and the connection closed", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      const userData = JSON.stringify({ id: "u-alice" });
      ws.sendFrame({
        event: "pusher:signin",
        data: { auth: `${p.APP.key}:${p.hmacHex("wrong", `${ws.socketId}::user::${userData}`)}`, user_data: userData },
      });
      const e = await ws.frames.take(p.frame("pusher:error"), "pusher:error 4009");
      assert.strictEqual(e.data.code, 4009, e.text);
      const closed = await h.withTimeout(ws.closed, 3000, "close after 4009");
      assert.strictEqual(closed.code, 4009);
    }),
  );

  it("terminate_connections (the library's terminateUserConnections): 4009 to that user's connections only", T, () =>
    p.withPusher([], async (server) => {
      // Raw connections: pusher-js, closed by the server, leaves a 30 s close timer of its
      // WebSocket client running (it closes the already closed socket).
      const lib = p.serverLib(server);
      const signin = async (id) => {
        const ws = await p.rawConnected(server);
        ws.sendFrame({ event: "pusher:signin", data: lib.authenticateUser(ws.socketId, { id }) });
        await ws.frames.take(p.frame("pusher:signin_success"), `pusher:signin_success for ${id}`);
        return ws;
      };
      const [a1, a2, b] = [await signin("u-alice"), await signin("u-alice"), await signin("u-bob")];
      await lib.terminateUserConnections("u-alice");
      for (const ws of [a1, a2]) {
        const e = await ws.frames.take(p.frame("pusher:error"), "pusher:error 4009");
        assert.strictEqual(e.data.code, 4009, e.text);
        const closed = await h.withTimeout(ws.closed, 3000, "close after terminate_connections");
        assert.strictEqual(closed.code, 4009);
      }
      await p.assertPong(b);
      await b.frames.none(p.frame("pusher:error"), "an error on another user's connection");
    }),
  );
});

describe("pusher: hostile frames", () => {
  afterEach(() => p.cleanup());

  /** Sends text and expects pusher:error; the connection stays open and answers a ping. */
  async function refusedButOpen(ws, text, what) {
    ws.sendFrame(text);
    const e = await ws.frames.take(p.frame("pusher:error"), `pusher:error for ${what}`);
    assert.ok(e.data && typeof e.data.message === "string", `${what}: ${e.text}`);
    await p.assertPong(ws);
    assert.strictEqual(ws.readyState, h.WebSocket.OPEN, `${what} closed the connection`);
  }

  it("bad JSON, a frame without event, non-object data, subscribe without channel: pusher:error, still open", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      await refusedButOpen(ws, "{not json", "bad JSON");
      await refusedButOpen(ws, "[1,2,3]", "a JSON array");
      await refusedButOpen(ws, JSON.stringify({ data: {} }), "a frame without event");
      await refusedButOpen(ws, JSON.stringify({ event: 42, data: {} }), "a number as event");
      await refusedButOpen(ws, JSON.stringify({ event: "pusher:subscribe", data: {} }), "subscribe without channel");
      await refusedButOpen(ws, JSON.stringify({ event: "pusher:subscribe", data: { channel: 7 } }), "a number as channel");
      await refusedButOpen(ws, JSON.stringify({ event: "pusher:subscribe", data: "not an object" }), "subscribe with string data");
      await refusedButOpen(ws, JSON.stringify({ event: "pusher:no-such-event", data: {} }), "an unknown pusher: event");
    }),
  );

  it("channel names over 164 characters or with characters Pusher does not allow are refused", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      for (const channel of ["a".repeat(200), "has space", "slash/y", "quote\"x", "é-accent"]) {
        ws.sendFrame({ event: "pusher:subscribe", data: { channel } });
        // Either answer names the refusal; neither is a subscription.
        const f = await ws.frames.take(
          (x) => x.event === "pusher:error" || x.event === "pusher:subscription_error" || x.event === "pusher_internal:subscription_succeeded",
          `a refusal of channel ${JSON.stringify(channel).slice(0, 40)}`,
        );
        assert.notStrictEqual(f.event, "pusher_internal:subscription_succeeded", `subscribed to ${JSON.stringify(channel).slice(0, 40)}`);
      }
      await p.assertPong(ws);
      const ok = await p.rawSubscribe(ws, "A-Za-z0-9_-=@,.;");
      assert.strictEqual(ok.event, "pusher_internal:subscription_succeeded", ok.text);
    }),
  );

  it("a frame of 1 MiB costs no more than an error: the server answers or closes, and serves others", T, () =>
    p.withPusher([], async (server) => {
      const ws = await p.rawConnected(server);
      ws.sendFrame({ event: "client-big", channel: "private-x", data: { blob: "x".repeat(1 << 20) } });
      await h.withTimeout(
        Promise.race([ws.closed, ws.frames.take(p.frame("pusher:error"), "pusher:error")]),
        3000,
        "a pusher:error or a close for a 1 MiB frame",
      );
      const other = await p.rawConnected(server);
      await p.assertPong(other);
    }),
  );

  it("/app/ without a key: pusher:error 4001 or an HTTP refusal; Socket.IO works beside it", T, () =>
    p.withPusher([], async (server) => {
      // /app/ with an empty key is an unknown app (4001) or refused outright.
      let answer;
      try {
        const ws = await p.rawPusher(server, { key: "" });
        const e = await ws.frames.take(p.frame("pusher:error"), "pusher:error");
        answer = e.data.code;
      } catch (err) {
        answer = err.message;
      }
      assert.ok(answer === 4001 || /HTTP 4\d\d/.test(String(answer)), `empty key: ${answer}`);
      // The Socket.IO endpoint still works beside it.
      await c.chatConnect(server.url, { transports: ["websocket"] });
    }),
  );
});

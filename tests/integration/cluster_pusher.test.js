// Pusher across the nodes of a cluster (docs/chat-protocol.md §12, §13): pusher-js and
// Laravel Echo clients on one node and socket.io-client 4 clients on another share a room;
// the Pusher HTTP API of any node publishes to subscribers on every node, lists the
// channels and counts the subscriptions of every node, and terminate_connections closes a
// user's connections wherever they are. Three real chat-server nodes.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const harness = require("./harness");
const p = require("./pusher_helpers");
const k = require("./cluster_helpers");

// The reference fixture (socket.io's echo) has no chat app, no Pusher and no cluster.
if (harness.isReference()) return;

const T = { timeout: 60000 };
const ARGS = ["--pusher-app", p.APP_ARG, "--api-key", p.API_KEY];

function sioAs(node, auth) {
  return c.chatConnect(node.url, { transports: ["websocket"], auth });
}

async function joinRoom(socket, room) {
  const [ack] = await h.emitAck(socket, "joinRoom", room);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
}

/** A raw Pusher connection to node, signed in as user (pusher:signin, as a backend signs it). */
async function signedIn(node, user) {
  const ws = await p.rawConnected(node);
  const userData = JSON.stringify({ id: user });
  const sig = p.hmacHex(p.APP.secret, `${ws.socketId}::user::${userData}`);
  ws.sendFrame({ event: "pusher:signin", data: { auth: `${p.APP.key}:${sig}`, user_data: userData } });
  await ws.frames.take(p.frame("pusher:signin_success"), "pusher:signin_success");
  return ws;
}

describe("Pusher and Socket.IO across nodes", () => {
  afterEach(() => p.cleanup());

  it("Echo on node a and Socket.IO on node b share private-chat.1: whispers, relays and /api/emit both ways", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const sio = await sioAs(b, { userId: "1", username: "One" });
      await joinRoom(sio, "private-chat.1");
      const echo = await p.echoClient(a);
      const channel = echo.private("chat.1");
      const inbox = p.echoListen(channel, [".userTyping", ".notice"]);
      await p.echoSubscribed(channel);
      // Pusher -> Socket.IO: a whisper from node a reaches the socket on node b.
      channel.whisper("typing", { typing: true });
      assert.deepStrictEqual(await sio.inbox.take("client-typing"), [{ typing: true }]);
      // Socket.IO -> Pusher: the socket's typing relay on node b reaches Echo on node a.
      sio.emit("typing", { conversationId: "private-chat.1", userId: "1" });
      const typing = await inbox.take((e) => e.event === ".userTyping", "userTyping on Echo");
      assert.deepStrictEqual(typing.data, { conversationId: "private-chat.1", userId: "1" });
      // The backend API of node c reaches both, once each.
      await p.apiEmit(cc, "private-chat.1", "notice", { n: 1 });
      assert.deepStrictEqual((await inbox.take((e) => e.event === ".notice", "notice on Echo")).data, { n: 1 });
      assert.deepStrictEqual(await sio.inbox.take("notice"), [{ n: 1 }]);
      await inbox.none((e) => e.event === ".notice", "a second notice");
      await c.assertNone(sio, "notice");
    }),
  );

  it("the HTTP API of node a publishes to subscribers on b and c, and counts every node's subscriptions", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const onB = await p.connectedClient(b);
      const onC = await p.connectedClient(cc);
      const newsB = p.channelInbox(await p.subscribed(onB, "news"));
      await p.subscribed(onB, "sports");
      const newsC = p.channelInbox(await p.subscribed(onC, "news"));
      const sio = await sioAs(a, { userId: "7", username: "Sam" });
      await joinRoom(sio, "news");

      const lib = p.serverLib(a);
      await lib.trigger("news", "headline", { text: "from node a" });
      for (const inbox of [newsB, newsC])
        assert.deepStrictEqual((await inbox.take((e) => e.event === "headline", "headline")).data, { text: "from node a" });
      assert.deepStrictEqual(await sio.inbox.take("headline"), [{ text: "from node a" }]);

      // Channels and counts: the same answer from every node (the socket's identity put it
      // in private-user.7, a room Pusher can name too).
      for (const node of [a, b, cc]) {
        const server = p.serverLib(node);
        const list = await p.call(server.get({ path: "/channels" }));
        assert.deepStrictEqual(list, { status: 200, json: { channels: { news: {}, sports: {}, "private-user.7": {} } } }, `on ${node.name}`);
        const params = { info: "subscription_count" };
        const news = await p.call(server.get({ path: "/channels/news", params }));
        assert.deepStrictEqual(news, { status: 200, json: { occupied: true, subscription_count: 3 } }, `on ${node.name}`);
        const sports = await p.call(server.get({ path: "/channels/sports", params }));
        assert.deepStrictEqual(sports, { status: 200, json: { occupied: true, subscription_count: 1 } }, `on ${node.name}`);
      }
      // A subscriber gone on node b is gone from the counts of node a.
      onB.unsubscribe("sports");
      await h.waitFor(
        async () => (await p.call(lib.get({ path: "/channels/sports" }))).json.occupied === false,
        h.DEFAULT_TIMEOUT_MS,
        "sports unoccupied",
      );
    }),
  );

  it("presence members on nodes b and c: node a counts and lists them all; each sees the other", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const u1 = await p.connectedClient(b, { member: { user_id: "u1", user_info: { name: "Una" } } });
      const u2 = await p.connectedClient(cc, { member: { user_id: "u2", user_info: { name: "Udo" } } });
      const u1Again = await p.connectedClient(cc, { member: { user_id: "u1", user_info: { name: "Una" } } });
      const lobby1 = await p.subscribed(u1, "presence-lobby");
      await p.subscribed(u2, "presence-lobby");
      await p.subscribed(u1Again, "presence-lobby");
      // pusher-js on b learns of u2 on c (member_added), and counts two members.
      await h.waitFor(() => lobby1.members.count === 2, h.DEFAULT_TIMEOUT_MS, "two members seen on b");
      const lib = p.serverLib(a);
      const params = { info: "user_count,subscription_count" };
      const one = await p.call(lib.get({ path: "/channels/presence-lobby", params }));
      assert.deepStrictEqual(one, { status: 200, json: { occupied: true, user_count: 2, subscription_count: 3 } });
      const list = await p.call(lib.get({ path: "/channels", params: { filter_by_prefix: "presence-", info: "user_count" } }));
      assert.deepStrictEqual(list, { status: 200, json: { channels: { "presence-lobby": { user_count: 2 } } } });
      const users = await p.call(lib.get({ path: "/channels/presence-lobby/users" }));
      assert.strictEqual(users.status, 200);
      assert.deepStrictEqual(users.json.users.map((u) => u.id).sort(), ["u1", "u2"]);
    }),
  );

  it("terminate_connections on node a closes the user's connections on nodes b and c", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const [u1b, u1c, u2c] = await Promise.all([signedIn(b, "u1"), signedIn(cc, "u1"), signedIn(cc, "u2")]);
      const res = await p.call(p.serverLib(a).terminateUserConnections("u1"));
      assert.deepStrictEqual(res, { status: 200, json: {} });
      for (const ws of [u1b, u1c]) {
        const error = await ws.frames.take(p.frame("pusher:error"), "pusher:error");
        assert.strictEqual(error.data.code, 4009);
        assert.strictEqual((await h.withTimeout(ws.closed, h.DEFAULT_TIMEOUT_MS, "close")).code, 4009);
      }
      await u2c.frames.none(p.frame("pusher:error"), "pusher:error for u2");
      await p.assertPong(u2c);
    }),
  );
});

// One set of rooms: a Pusher channel and the Socket.IO room of the same name on the
// conversations namespace (/) are one room. A Socket.IO client (socket.io-client 4) and a
// Laravel Echo client (pusher-js 8) in the same room see each other's messages and
// presence: a Socket.IO broadcast reaches Echo (event name = Socket.IO event, data = its
// first argument), a Pusher event reaches Socket.IO (event name = Pusher event, one
// argument = the data as JSON), presence members are one list, and user.status.changed
// reaches Pusher subscribers of presence-users.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const harness = require("./harness");
const p = require("./pusher_helpers");

// The reference fixture (socket.io's echo) has no chat app and no Pusher apps.
if (harness.isReference()) return;

const T = { timeout: 20000 };
const ROOM = "presence-chat.1";
const eve = { user_id: 8, user_info: { id: 8, name: "Eve" } }; // Laravel: an integer id
const sam = { userId: "7", username: "Sam" };
const samMember = { user_id: "7", user_info: { name: "Sam" } };

function sioAs(server, auth) {
  return c.chatConnect(server.url, { transports: ["websocket"], auth });
}

/**
 * Members as {user_id (text), user_info}, sorted by id: other fields (seed 001's
 * connected_at) are not part of the Pusher member.
 */
function normalized(members) {
  return members.map((m) => ({ user_id: String(m.user_id), user_info: m.user_info })).sort((x, y) => (x.user_id < y.user_id ? -1 : 1));
}

/** Echo joins ROOM; resolves with {channel, here, joining, leaving}. */
async function echoJoin(echo, name = "chat.1") {
  const channel = echo.join(name);
  const joining = new p.Inbox(`${name} joining`);
  const leaving = new p.Inbox(`${name} leaving`);
  channel.joining((u) => joining.push(u)).leaving((u) => leaving.push(u));
  const here = await h.withTimeout(new Promise((resolve) => channel.here(resolve)), 3000, `here on ${name}`);
  return { channel, here, joining, leaving };
}

describe("Socket.IO and Pusher in one presence room", () => {
  afterEach(() => p.cleanup());

  it("Socket.IO first, then Echo: one member list both ways; user.joined and joining/leaving", T, () =>
    p.withPusher([], async (server) => {
      const sio = await sioAs(server, sam);
      const [ack] = await h.emitAck(sio, "joinRoom", ROOM);
      assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      assert.deepStrictEqual(normalized(ack.members), normalized([samMember]));

      const echo = await p.echoClient(server, { member: eve });
      const { channel, here } = await echoJoin(echo);
      const byName = (x, y) => (x.name < y.name ? -1 : 1);
      assert.deepStrictEqual([...here].sort(byName), [eve.user_info, samMember.user_info]);
      const succeeded = await echo.pusher.messages.take(p.frame("pusher_internal:subscription_succeeded", ROOM), "succeeded");
      assert.deepStrictEqual([...succeeded.data.presence.ids].map(String).sort(), ["7", "8"]);
      assert.strictEqual(succeeded.data.presence.count, 2);
      assert.deepStrictEqual(succeeded.data.presence.hash["7"], samMember.user_info);

      const [joined] = await sio.inbox.take("user.joined");
      assert.deepStrictEqual(normalized([joined]), normalized([eve]));

      // The HTTP view of the room lists both.
      const listed = await c.httpJson(`${server.url}/api/presence/${encodeURIComponent(ROOM)}`, {
        headers: { "X-API-Key": p.API_KEY },
      });
      assert.strictEqual(listed.status, 200, listed.body);
      assert.deepStrictEqual(normalized(listed.json.members), normalized([samMember, eve]));

      // The Pusher HTTP API (npm pusher library) lists both too.
      const lib = p.serverLib(server);
      const users = await (await lib.get({ path: `/channels/${ROOM}/users` })).json();
      assert.deepStrictEqual(users.users.map((u) => String(u.id)).sort(), ["7", "8"], JSON.stringify(users));
      const info = await (await lib.get({ path: `/channels/${ROOM}`, params: { info: "user_count" } })).json();
      assert.strictEqual(info.occupied, true, JSON.stringify(info));
      assert.strictEqual(info.user_count, 2, JSON.stringify(info));

      // A second Socket.IO socket joining sees the Echo member in its ack.
      const other = await sioAs(server, { userId: "11", username: "Olga" });
      const [ack2] = await h.emitAck(other, "joinRoom", ROOM);
      assert.deepStrictEqual(normalized(ack2.members), normalized([samMember, eve, { user_id: "11", user_info: { name: "Olga" } }]));
      const olgaAdded = await echo.pusher.messages.take(p.frame("pusher_internal:member_added", ROOM), "member_added for olga");
      assert.strictEqual(String(olgaAdded.data.user_id), "11", JSON.stringify(olgaAdded));
      assert.deepStrictEqual(olgaAdded.data.user_info, { name: "Olga" });

      // Echo leaves: user.left on Socket.IO.
      echo.leave("chat.1");
      const [left] = await sio.inbox.take("user.left");
      assert.deepStrictEqual(normalized([left]), normalized([eve]));
    }),
  );

  it("Echo first, then Socket.IO: joining on Echo, the Echo member in the ack; a disconnect is leaving", T, () =>
    p.withPusher([], async (server) => {
      const echo = await p.echoClient(server, { member: eve });
      const { here, joining, leaving } = await echoJoin(echo);
      assert.deepStrictEqual(here, [eve.user_info]);

      const sio = await sioAs(server, sam);
      const [ack] = await h.emitAck(sio, "joinRoom", { room: ROOM });
      assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
      assert.deepStrictEqual(normalized(ack.members), normalized([samMember, eve]));
      const [pm] = await sio.inbox.take("presence.members");
      assert.deepStrictEqual(normalized(pm.members), normalized([samMember, eve]));
      assert.deepStrictEqual(await joining.take(() => true, "joining"), samMember.user_info);
      const added = await echo.pusher.messages.take(p.frame("pusher_internal:member_added", ROOM), "member_added");
      assert.strictEqual(String(added.data.user_id), "7");

      sio.disconnect();
      assert.deepStrictEqual(await leaving.take(() => true, "leaving"), samMember.user_info);
      const removed = await echo.pusher.messages.take(p.frame("pusher_internal:member_removed", ROOM), "member_removed");
      assert.strictEqual(String(removed.data.user_id), "7");
    }),
  );

  it("a user both on Socket.IO and on Echo is one member; it leaves when its last connection does", T, () =>
    p.withPusher([], async (server) => {
      const watcher = await sioAs(server, { userId: "99", username: "Watcher" });
      await h.emitAck(watcher, "joinRoom", ROOM);
      const sioEve = await sioAs(server, { userId: "8", username: "Eve" });
      await h.emitAck(sioEve, "joinRoom", ROOM);
      const [j] = await watcher.inbox.take("user.joined");
      assert.strictEqual(String(j.user_id), "8");
      const echo = await p.echoClient(server, { member: eve });
      const { here } = await echoJoin(echo);
      assert.strictEqual(here.length, 2, `user 8 counted twice: ${JSON.stringify(here)}`);
      await c.assertNone(watcher, "user.joined");
      sioEve.disconnect();
      await c.assertNone(watcher, "user.left", 600);
      echo.disconnect();
      const [left] = await watcher.inbox.take("user.left");
      assert.strictEqual(String(left.user_id), "8");
    }),
  );
});

describe("Socket.IO and Pusher in one room: messages", () => {
  afterEach(() => p.cleanup());

  it("a Socket.IO broadcast to the room reaches Echo as event name + first argument", T, () =>
    p.withPusher([], async (server) => {
      const echo = await p.echoClient(server, { member: eve });
      const { channel } = await echoJoin(echo);
      const inbox = p.echoListen(channel, [".receiveMessage", ".userTyping"]);
      const sio = await sioAs(server, sam);
      await h.emitAck(sio, "joinRoom", ROOM);

      const [sent] = await h.emitAck(sio, "sendMessage", { conversationId: ROOM, senderId: "7", content: "hello Echo", type: "text" });
      assert.strictEqual(sent.status, "ok", JSON.stringify(sent));
      const [own] = await sio.inbox.take("receiveMessage");
      const got = await inbox.take((e) => e.event === ".receiveMessage", "receiveMessage on Echo");
      assert.deepStrictEqual(got.data, own, "Echo's data differs from the Socket.IO sockets' first argument");

      sio.emit("typing", { conversationId: ROOM, userId: "7" });
      const typing = await inbox.take((e) => e.event === ".userTyping", "userTyping on Echo");
      assert.deepStrictEqual(typing.data, { conversationId: ROOM, userId: "7" });
      await c.assertNone(sio, "userTyping");
    }),
  );

  it("Echo's whisper reaches the Socket.IO sockets as client-<name> with the data as one argument", T, () =>
    p.withPusher([], async (server) => {
      const sio = await sioAs(server, sam);
      await h.emitAck(sio, "joinRoom", ROOM);
      const echo = await p.echoClient(server, { member: eve });
      const { channel } = await echoJoin(echo);
      const mine = new p.Inbox("echo's own whispers");
      channel.listenForWhisper("typing", (d) => mine.push(d));
      channel.whisper("typing", { name: "Eve", typing: true });
      const args = await sio.inbox.take("client-typing");
      assert.deepStrictEqual(args, [{ name: "Eve", typing: true }]);
      await mine.none(() => true, "its own whisper");
    }),
  );

  it("an HTTP API event (npm pusher library) reaches the Socket.IO sockets and Echo alike", T, () =>
    p.withPusher([], async (server) => {
      const sio = await sioAs(server, sam);
      await h.emitAck(sio, "joinRoom", ROOM);
      const echo = await p.echoClient(server, { member: eve });
      const { channel } = await echoJoin(echo);
      const inbox = p.echoListen(channel, ".message.sent");
      const outsider = await sioAs(server, { userId: "12", username: "Out" });
      await p.serverLib(server).trigger(ROOM, "message.sent", { id: 5, text: "from the backend", n: [1, 2.5, null] });
      const args = await sio.inbox.take("message.sent");
      assert.deepStrictEqual(args, [{ id: 5, text: "from the backend", n: [1, 2.5, null] }]);
      const got = await inbox.take(() => true, ".message.sent on Echo");
      assert.deepStrictEqual(got.data, { id: 5, text: "from the backend", n: [1, 2.5, null] });
      await c.assertNone(outsider, "message.sent");
    }),
  );

  it("private-chat.1: a Socket.IO participant and an Echo client exchange messages and whispers", T, () =>
    p.withPusher([], async (server) => {
      const sio = await sioAs(server, { userId: "1", username: "One" });
      const [ack] = await h.emitAck(sio, "joinRoom", "private-chat.1");
      assert.deepStrictEqual(ack, { status: "ok", room: "private-chat.1" });
      const echo = await p.echoClient(server);
      const channel = echo.private("chat.1");
      const inbox = p.echoListen(channel, ".receiveMessage");
      await p.echoSubscribed(channel);
      await h.emitAck(sio, "sendMessage", { conversationId: "private-chat.1", senderId: "1", content: "psst", type: "text" });
      const got = await inbox.take(() => true, "receiveMessage on Echo");
      assert.strictEqual(got.data.message.content, "psst");
      channel.whisper("typing", { typing: true });
      assert.deepStrictEqual(await sio.inbox.take("client-typing"), [{ typing: true }]);
      // /api/emit to the room reaches Echo too.
      const more = p.echoListen(channel, ".notice");
      await p.apiEmit(server, "private-chat.1", "notice", { n: 1 });
      assert.deepStrictEqual((await more.take(() => true, "notice on Echo")).data, { n: 1 });
      assert.deepStrictEqual(await sio.inbox.take("notice"), [{ n: 1 }]);
    }),
  );

  it("60 events to the room arrive once each and in order at pusher-js and at the Socket.IO socket", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      await p.subscribed(client, "burst");
      const sio = await sioAs(server, sam);
      await h.emitAck(sio, "joinRoom", "burst");
      const lib = p.serverLib(server);
      for (let i = 0; i < 30; i++) {
        await p.apiEmit(server, "burst", "n", { i: 2 * i });
        await lib.trigger("burst", "n", { i: 2 * i + 1 });
      }
      const want = Array.from({ length: 60 }, (_, i) => i);
      await h.waitFor(() => client.messages.items.filter(p.frame("n", "burst")).length >= 60, 5000, "60 events at pusher-js");
      await h.waitFor(() => sio.inbox.count("n") >= 60, 5000, "60 events at the Socket.IO socket");
      await h.delay(h.SETTLE_MS);
      assert.deepStrictEqual(client.messages.items.filter(p.frame("n", "burst")).map((f) => f.data.i), want);
      assert.deepStrictEqual(sio.inbox.drain("n").map(([d]) => d.i), want);
    }),
  );

  it("a Socket.IO event whose data is not an object (a string, a number) reaches Pusher as that JSON value", T, () =>
    p.withPusher([], async (server) => {
      const client = await p.connectedClient(server);
      await p.subscribed(client, "news");
      await p.apiEmit(server, "news", "plain", "just text");
      await p.apiEmit(server, "news", "count", 42);
      const s = await client.messages.take(p.frame("plain", "news"), "plain");
      assert.strictEqual(s.data, "just text");
      const n = await client.messages.take(p.frame("count", "news"), "count");
      assert.strictEqual(n.data, 42);
    }),
  );
});

describe("user.status.changed on presence-users", () => {
  afterEach(() => p.cleanup());

  it("a Socket.IO user coming online and going offline reaches Echo subscribers of presence-users", T, () =>
    p.withPusher([], async (server) => {
      const echo = await p.echoClient(server, { member: { user_id: 9, user_info: { id: 9, name: "Nine" } } });
      const { channel } = await echoJoin(echo, "users");
      const inbox = p.echoListen(channel, ".user.status.changed");
      const isUser = (id, online) => (e) => e.data && e.data.user && e.data.user.id === id && e.data.user.is_online === online;

      const sio = await sioAs(server, { userId: "10", username: "Ten" });
      const on = await inbox.take(isUser("10", true), "user.status.changed online for 10");
      c.assertKeys(on.data.user, ["id", "is_online", "last_seen"], "user");
      sio.disconnect();
      const off = await inbox.take(isUser("10", false), "user.status.changed offline for 10");
      c.assertIso(off.data.user.last_seen, "last_seen");
    }),
  );
});

// Presence, online status and the room chat's users across three chat-server nodes
// (docs/chat-protocol.md §5, "In a cluster"): every node holds every node's counts, so the
// lists merge, a user with sockets on two nodes is one member, each socket hears each
// user.joined / user.left / user.status.changed once, and a node that dies takes its users
// out of every list on the others, announced as if they had disconnected.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const cl = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 30000 };
const KEY = "cluster-presence-key";

function connectAs(node, userId, username) {
  return c.chatConnect(node.url, userId ? { auth: { userId, username: username || userId } } : {});
}

async function joinPresence(s, room) {
  const [ack] = await h.emitAck(s, "joinRoom", room);
  assert.strictEqual(ack.status, "ok", JSON.stringify(ack));
  return ack.members.map((m) => m.user_id).sort();
}

async function presenceOn(node, room) {
  const res = await c.httpJson(`${node.url}/api/presence/${room}`, { headers: { "X-API-Key": KEY } });
  assert.strictEqual(res.status, 200, res.body);
  return res.json.members.map((m) => m.user_id).sort();
}

async function onlineOn(node, user) {
  const res = await c.httpJson(`${node.url}/api/users/${user}/status`, { headers: { "X-API-Key": KEY } });
  assert.strictEqual(res.status, 200, res.body);
  return res.json.is_online;
}

/** Waits until every node in `nodes` lists exactly `users` in `room` (the deltas crossed). */
async function waitPresence(nodes, room, users) {
  const want = JSON.stringify([...users].sort());
  await h.waitFor(
    async () => {
      for (const n of nodes) if (JSON.stringify(await presenceOn(n, room)) !== want) return false;
      return true;
    },
    5000,
    `${room} lists ${want} on ${nodes.map((n) => n.name)}`,
  );
}

const isUser = (id) => (ev) => ev && ev.user && ev.user.id === id;
const isMember = (id) => (m) => m && m.user_id === id;

describe("cluster: presence, online status and room chat users", { timeout: 120000 }, () => {
  let cluster;

  before(async () => {
    cluster = await cl.startCluster(["a", "b", "c"], { args: ["--api-key", KEY] });
  });
  after(async () => {
    if (cluster) await cluster.stopAll();
  });
  afterEach(() => h.cleanup());

  it("presence lists and online status merge; one user on two nodes is one member, announced once", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const watchA = await connectAs(a);
    const watchC = await connectAs(cNode);
    const alice = await connectAs(a, "m-alice", "Alice");
    for (const w of [watchA, watchC]) {
      const [on] = await w.inbox.take("user.status.changed", undefined, isUser("m-alice"));
      assert.strictEqual(on.user.is_online, true);
    }
    assert.deepStrictEqual(await joinPresence(alice, "presence-m"), ["m-alice"]);
    await waitPresence([a, b, cNode], "presence-m", ["m-alice"]);

    // Alice's second socket, on c: still one member, nobody hears a second joined or online.
    const alice2 = await connectAs(cNode, "m-alice", "Alice");
    assert.deepStrictEqual(await joinPresence(alice2, "presence-m"), ["m-alice"]);
    const bob = await connectAs(cNode, "m-bob", "Bob");
    assert.deepStrictEqual(await joinPresence(bob, "presence-m"), ["m-alice", "m-bob"]);
    // Bob's user.joined reaches Alice's sockets on both nodes once, not Bob.
    for (const s of [alice, alice2]) {
      const [j] = await s.inbox.take("user.joined", undefined, isMember("m-bob"));
      assert.deepStrictEqual(c.member(j), { user_id: "m-bob", user_info: { name: "Bob" } });
    }
    await waitPresence([a, b, cNode], "presence-m", ["m-alice", "m-bob"]);
    await c.assertNone([alice, alice2, bob], "user.joined", 300, isMember("m-alice"));
    await c.assertNone([alice, alice2], "user.joined", 0, isMember("m-bob"));
    await c.assertNone(bob, "user.joined", 0);
    for (const w of [watchA, watchC]) {
      await w.inbox.take("user.status.changed", undefined, isUser("m-bob"));
      await c.assertNone(w, "user.status.changed", 0, isUser("m-alice"));
    }
    // b has no socket of either, and answers for the cluster.
    assert.strictEqual(await onlineOn(b, "m-alice"), true);
    assert.strictEqual(await onlineOn(b, "m-bob"), true);

    // Alice's socket on a goes: she is still there through c.
    alice.disconnect();
    await h.delay(300);
    assert.deepStrictEqual(await presenceOn(b, "presence-m"), ["m-alice", "m-bob"]);
    assert.strictEqual(await onlineOn(a, "m-alice"), true);
    await c.assertNone([alice2, bob], "user.left", 0);
    await c.assertNone([watchA, watchC], "user.status.changed", 0, isUser("m-alice"));
    // And on c: she leaves, everywhere, once.
    alice2.disconnect();
    const [left] = await bob.inbox.take("user.left", undefined, isMember("m-alice"));
    assert.deepStrictEqual(c.member(left), { user_id: "m-alice", user_info: { name: "Alice" } });
    for (const w of [watchA, watchC]) {
      const [off] = await w.inbox.take("user.status.changed", undefined, isUser("m-alice"));
      assert.strictEqual(off.user.is_online, false);
    }
    await waitPresence([a, b, cNode], "presence-m", ["m-bob"]);
    assert.strictEqual(await onlineOn(b, "m-alice"), false);
    await c.assertNone(bob, "user.left", 300);
    await c.assertNone([watchA, watchC], "user.status.changed", 0, isUser("m-alice"));
  });

  it("room chat: users-list and room-members for the whole cluster, a private message to a socket on another node", TEST_TIMEOUT, async () => {
    const { a, c: cNode } = cluster.byName;
    const amy = await c.chatConnect(`${a.url}/chat`);
    amy.emit("join", "amy");
    await amy.inbox.take("join-success");
    const carl = await c.chatConnect(`${cNode.url}/chat`);
    // carl's join lists amy, who joined on another node (once the delta crossed).
    await h.waitFor(
      async () => {
        const [ack] = await h.emitAck(carl, "join", "carl");
        assert.strictEqual(ack.status, "ok");
        const [list] = await carl.inbox.take("users-list");
        carl.inbox.drain("users-list");
        return list.map((u) => u.username).sort().join(",") === "amy,carl";
      },
      5000,
      "carl's users-list with amy",
    );
    amy.emit("join-room", "r-x");
    await amy.inbox.take("joined-room");
    await h.delay(200);
    const [ok] = await h.emitAck(carl, "join-room", "r-x");
    assert.deepStrictEqual(ok, { status: "ok", room: "r-x" });
    const [members] = await carl.inbox.take("room-members");
    assert.deepStrictEqual(members.map((u) => u.username).sort(), ["amy", "carl"]);
    const [pm] = await h.emitAck(amy, "private-message", { to: carl.id, message: "across" });
    assert.deepStrictEqual(pm, { status: "ok" });
    const [got] = await carl.inbox.take("private-message");
    assert.strictEqual(got.text, "across");
    assert.strictEqual(got.from, "amy");
  });

  it("SIGKILL of b: b's users leave the presence rooms and go offline on a and c, once each; the room chat hears they left", TEST_TIMEOUT, async () => {
    const { a, b, c: cNode } = cluster.byName;
    const watchA = await connectAs(a);
    const watchC = await connectAs(cNode);
    const dave = await connectAs(a, "k-dave");
    const erin = await connectAs(cNode, "k-erin");
    const carol = await connectAs(b, "k-carol"); // only on b
    const frank = await connectAs(b, "k-frank"); // on b and a
    const frank2 = await connectAs(a, "k-frank");
    for (const s of [dave, erin, carol, frank, frank2]) await joinPresence(s, "presence-k");
    const users = ["k-carol", "k-dave", "k-erin", "k-frank"];
    await waitPresence([a, b, cNode], "presence-k", users);
    const bob = await c.chatConnect(`${b.url}/chat`);
    bob.emit("join", "bob-on-b");
    await bob.inbox.take("join-success");
    const amy = await c.chatConnect(`${a.url}/chat`);
    const [ok] = await h.emitAck(amy, "join", "amy-on-a");
    assert.strictEqual(ok.status, "ok");
    // a knows bob once a private message to him is taken.
    await h.waitFor(
      async () => (await h.emitAck(amy, "private-message", { to: bob.id, message: "hi" }))[0].status === "ok",
      5000,
      "bob known on a",
    );
    for (const s of [watchA, watchC, dave, erin, frank2, amy]) s.inbox.clear();

    b.proc.kill("SIGKILL");
    await cl.waitMembers([a, cNode], ["a", "c"], 8000);
    for (const s of [dave, erin, frank2]) {
      const [left] = await s.inbox.take("user.left", 5000, isMember("k-carol"));
      assert.deepStrictEqual(c.member(left), { user_id: "k-carol", user_info: { name: "k-carol" } });
    }
    for (const w of [watchA, watchC]) {
      const [off] = await w.inbox.take("user.status.changed", 5000, isUser("k-carol"));
      assert.strictEqual(off.user.is_online, false);
    }
    const [gone] = await amy.inbox.take("user-disconnected", 5000);
    assert.strictEqual(gone.username, "bob-on-b");
    for (const n of [a, cNode]) {
      assert.deepStrictEqual(await presenceOn(n, "presence-k"), ["k-dave", "k-erin", "k-frank"]);
      assert.strictEqual(await onlineOn(n, "k-carol"), false);
      assert.strictEqual(await onlineOn(n, "k-frank"), true);
    }
    // Once each, and Frank (still on a) never left.
    await c.assertNone([dave, erin, frank2], "user.left", 500, isMember("k-carol"));
    await c.assertNone([dave, erin, frank2], "user.left", 0, isMember("k-frank"));
    await c.assertNone([watchA, watchC], "user.status.changed", 0, (ev) => ev && ev.user && ev.user.id !== "k-carol");
    await c.assertNone([watchA, watchC], "user.status.changed", 0, isUser("k-carol"));
    await c.assertNone(amy, "user-disconnected", 0);
  });
});

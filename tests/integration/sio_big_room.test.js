// One room of 200 clients: past the 64 members at which the server hands a room to a room
// actor (docs/architecture.md). Bursts of broadcasts reach each member exactly once and
// in order, `except` a sub-room, across the hand-offs as members leave and disconnect
// below 64 and join again. Every tenth client polls (its frames go through its
// connection actor rather than straight to its WebSocket).
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const N = 200;
const BURST = 20;
const TEST_TIMEOUT = { timeout: 30000 };

describe(`one room of ${N} clients`, () => {
  let server;
  let clients; // [{i, socket, got: Map(tag -> [n...])}]
  let outsider; // the sender, in no room
  let tags = 0;

  const inQuarter = (i) => i % 4 === 0;

  async function joinAll(who, room) {
    await Promise.all(who.map(async (c) => assert.deepStrictEqual(await h.emitAck(c.socket, "join", room), [room])));
  }
  async function leaveAll(who, room) {
    await Promise.all(who.map(async (c) => assert.deepStrictEqual(await h.emitAck(c.socket, "leave", room), [room])));
  }

  before(async () => {
    server = await harness.start();
    const connectOne = async (i) => {
      const transports = i % 10 === 9 ? ["polling"] : ["websocket"];
      const socket = await h.connect(server.url, { transports });
      const got = new Map();
      socket.on("bc", ({ tag, n }) => {
        if (!got.has(tag)) got.set(tag, []);
        got.get(tag).push(n);
      });
      return { i, socket, got };
    };
    clients = [];
    for (let i = 0; i < N; i += 50)
      clients.push(...(await Promise.all([...Array(50).keys()].map((k) => connectOne(i + k)))));
    outsider = await h.connect(server.url, { transports: ["websocket"] });
    await joinAll(clients, "big");
    await joinAll(clients.filter((c) => inQuarter(c.i)), "quarter");
  });

  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });

  /**
   * Sends BURST broadcasts of `spec` from `from` back to back (without waiting for their
   * acks), then checks that each client for which expected(c) holds got 0..BURST-1 in
   * order, once each, and that nobody else got any.
   */
  async function burst(from, spec, expected) {
    const tag = `t${++tags}`;
    const acks = [];
    for (let n = 0; n < BURST; n++) acks.push(h.emitAck(from, "broadcast", { ...spec, event: "bc", data: { tag, n } }));
    for (const ack of await Promise.all(acks)) assert.deepStrictEqual(ack, ["ok"]);
    const want = clients.filter(expected);
    await h.waitFor(
      () => want.every((c) => (c.got.get(tag) || []).length >= BURST),
      10000,
      `${tag} at ${want.length} clients`,
    );
    await h.delay(h.SETTLE_MS); // let any duplicate or stray delivery arrive
    const inOrder = [...Array(BURST).keys()];
    for (const c of clients) {
      const got = c.got.get(tag) || [];
      assert.deepStrictEqual(got, expected(c) ? inOrder : [], `client ${c.i}: ${tag}`);
    }
    return want.length;
  }

  it("a burst reaches each of the 200 once, in order", TEST_TIMEOUT, async () => {
    assert.strictEqual(await burst(outsider, { rooms: ["big"] }, () => true), N);
    // The sender is a member too: it gets its own broadcasts.
    assert.strictEqual(await burst(clients[3].socket, { rooms: ["big"] }, () => true), N);
  });

  it("except a sub-room; the union of the room and its sub-room once each", TEST_TIMEOUT, async () => {
    assert.strictEqual(await burst(outsider, { rooms: ["big"], except: ["quarter"] }, (c) => !inQuarter(c.i)), 150);
    assert.strictEqual(await burst(outsider, { rooms: ["quarter"], except: ["big"] }, () => false), 0);
    assert.strictEqual(await burst(outsider, { rooms: ["quarter", "big"] }, () => true), N);
    assert.strictEqual(await burst(outsider, { except: ["big"] }, () => false), 0);
  });

  it("members leave and disconnect below 64 and join again", TEST_TIMEOUT, async () => {
    // 150 leave: 50 members are left (every fourth client stays).
    const stay = (c) => c.i % 4 === 1;
    const leavers = clients.filter((c) => !stay(c));
    await leaveAll(leavers, "big");
    assert.strictEqual(await burst(outsider, { rooms: ["big"] }, stay), 50);
    // 10 of the 50 disconnect.
    const gone = new Set(clients.filter((c) => stay(c) && c.i % 20 === 1).map((c) => c.i));
    assert.strictEqual(gone.size, 10);
    await Promise.all(
      clients
        .filter((c) => gone.has(c.i))
        .map(async (c) => {
          const disconnected = h.once(c.socket, "disconnect");
          c.socket.disconnect();
          await disconnected;
        }),
    );
    await h.waitFor(
      async () => JSON.parse((await h.request(`${server.url}/health`)).body).connections === N + 1 - gone.size,
      5000,
      "the disconnected clients gone from the server",
    );
    const present = (c) => !gone.has(c.i);
    assert.strictEqual(await burst(outsider, { rooms: ["big"] }, (c) => stay(c) && present(c)), 40);
    // Back above 64: the leavers join again.
    await joinAll(leavers, "big");
    assert.strictEqual(await burst(outsider, { rooms: ["big"] }, present), N - 10);
    assert.strictEqual(
      await burst(outsider, { rooms: ["big"], except: ["quarter"] }, (c) => present(c) && !inQuarter(c.i)),
      140,
    );
    // Everyone leaves: the room is gone; then it fills up again.
    const remaining = clients.filter(present);
    await leaveAll(remaining, "big");
    assert.strictEqual(await burst(outsider, { rooms: ["big"] }, () => false), 0);
    await joinAll(remaining, "big");
    assert.strictEqual(await burst(clients[5].socket, { rooms: ["big"] }, present), N - 10);
  });
});

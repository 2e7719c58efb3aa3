// Rooms and broadcasts with 60 clients (mixed transports): to a room, to the union of
// two rooms (delivered once per socket), with except, namespace-wide, after leave, and
// namespace isolation. Checks who receives AND who does not.
"use strict";

const { describe, it, before, after } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const N = 60;
const TEST_TIMEOUT = { timeout: 15000 };

describe("rooms and broadcast with 60 clients", () => {
  let server;
  let url;
  let clients; // [{i, socket, got: Map(event -> [data...])}]
  let seq = 0;

  // Rooms: "even"/"odd" by parity, "three" when i % 3 === 0.
  const roomsOf = (i) => [i % 2 === 0 ? "even" : "odd", ...(i % 3 === 0 ? ["three"] : [])];

  before(async () => {
    server = await harness.start();
    url = server.url;
    // Every third client is polling only, the others WebSocket only.
    clients = await Promise.all(
      [...Array(N).keys()].map(async (i) => {
        const transports = i % 3 === 1 ? ["polling"] : ["websocket"];
        const socket = await h.connect(url, { transports });
        const got = new Map();
        socket.onAny((event, data) => {
          if (!event.startsWith("bc-")) return;
          if (!got.has(event)) got.set(event, []);
          got.get(event).push(data);
        });
        return { i, socket, got };
      }),
    );
    await Promise.all(
      clients.flatMap(({ i, socket }) =>
        roomsOf(i).map(async (room) => {
          assert.deepStrictEqual(await h.emitAck(socket, "join", room), [room]);
        }),
      ),
    );
  });

  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });

  /**
   * Sends a broadcast from clients[from] and checks that exactly the clients for which
   * expected(i) is true get it, once each, and that nobody else gets it.
   */
  async function checkBroadcast(from, spec, expected) {
    const event = `bc-${++seq}`;
    const data = { seq, payload: "x".repeat(10) };
    const ack = await h.emitAck(clients[from].socket, "broadcast", { ...spec, event, data });
    assert.deepStrictEqual(ack, ["ok"]);
    const want = clients.filter(({ i }) => expected(i));
    await h.waitFor(
      () => want.every((c) => c.got.has(event)),
      5000,
      `${event} at ${want.length} clients`,
    );
    await h.delay(h.SETTLE_MS); // let any wrong or duplicate delivery arrive
    for (const c of clients) {
      const n = (c.got.get(event) || []).length;
      assert.strictEqual(n, expected(c.i) ? 1 : 0, `client ${c.i} received ${event} ${n} times`);
      if (n) assert.deepStrictEqual(c.got.get(event)[0], data);
    }
    return want.length;
  }

  it("broadcasts to one room (sender outside the room)", TEST_TIMEOUT, async () => {
    const n = await checkBroadcast(1, { rooms: ["three"] }, (i) => i % 3 === 0);
    assert.strictEqual(n, 20);
  });

  it("includes the sender when it is in the room", TEST_TIMEOUT, async () => {
    await checkBroadcast(3, { rooms: ["three"] }, (i) => i % 3 === 0);
  });

  it("broadcasts to the union of two rooms, once per socket", TEST_TIMEOUT, async () => {
    const n = await checkBroadcast(1, { rooms: ["even", "three"] }, (i) => i % 2 === 0 || i % 3 === 0);
    assert.strictEqual(n, 40);
  });

  it("broadcasts namespace-wide except a room", TEST_TIMEOUT, async () => {
    const n = await checkBroadcast(0, { except: ["even"] }, (i) => i % 2 === 1);
    assert.strictEqual(n, 30);
  });

  it("broadcasts to a room except another room", TEST_TIMEOUT, async () => {
    const n = await checkBroadcast(5, { rooms: ["three"], except: ["odd"] }, (i) => i % 6 === 0);
    assert.strictEqual(n, 10);
  });

  it("broadcasts namespace-wide, sender included", TEST_TIMEOUT, async () => {
    const n = await checkBroadcast(7, {}, () => true);
    assert.strictEqual(n, N);
  });

  it("broadcasts to a room nobody is in reach nobody", TEST_TIMEOUT, async () => {
    await checkBroadcast(2, { rooms: ["nobody-here"] }, () => false);
  });

  it("broadcasts to a socket's own id room (private message)", TEST_TIMEOUT, async () => {
    const target = clients[11];
    await checkBroadcast(4, { rooms: [target.socket.id] }, (i) => i === 11);
  });

  it("stops delivering to a socket after it leaves the room", TEST_TIMEOUT, async () => {
    const leaver = clients[0]; // in "even" and "three"
    assert.deepStrictEqual(await h.emitAck(leaver.socket, "leave", "three"), ["three"]);
    await checkBroadcast(1, { rooms: ["three"] }, (i) => i % 3 === 0 && i !== 0);
    // still in "even"
    await checkBroadcast(1, { rooms: ["even"] }, (i) => i % 2 === 0);
    assert.deepStrictEqual(await h.emitAck(leaver.socket, "join", "three"), ["three"]);
    await checkBroadcast(1, { rooms: ["three"] }, (i) => i % 3 === 0);
  });

  it("a disconnected socket leaves its rooms", TEST_TIMEOUT, async () => {
    const gone = clients[6];
    const disconnected = h.once(gone.socket, "disconnect");
    gone.socket.disconnect();
    await disconnected;
    await h.delay(100);
    await checkBroadcast(1, { rooms: ["three"] }, (i) => i % 3 === 0 && i !== 6);
  });

  it("rooms are per namespace", TEST_TIMEOUT, async () => {
    const other = await h.connect(`${url}/custom`, { transports: ["websocket"] });
    assert.deepStrictEqual(await h.emitAck(other, "join", "even"), ["even"]);
    const gotOther = [];
    other.onAny((event) => {
      if (event.startsWith("bc-")) gotOther.push(event);
    });
    // broadcast in "/" to "even" must not reach the /custom socket in "even"
    await checkBroadcast(1, { rooms: ["even"] }, (i) => i % 2 === 0 && i !== 6);
    assert.deepStrictEqual(gotOther, []);
    // and a broadcast in /custom reaches only it
    const custom = h.once(other, "bc-custom");
    assert.deepStrictEqual(
      await h.emitAck(other, "broadcast", { rooms: ["even"], event: "bc-custom", data: 1 }),
      ["ok"],
    );
    assert.deepStrictEqual(await custom, [1]);
    await h.delay(h.SETTLE_MS);
    for (const c of clients) assert.ok(!c.got.has("bc-custom"), `client ${c.i} got bc-custom`);
  });
});

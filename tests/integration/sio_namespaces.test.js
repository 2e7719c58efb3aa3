// Namespaces: two namespaces multiplexed over one Engine.IO connection (websocket and
// polling), dynamic namespaces (/dyn-...), unknown namespace refusal, the /custom
// middleware refusal (message + data), and a refused namespace not disturbing another.
"use strict";

const { describe, it, before, after, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");

const TEST_TIMEOUT = { timeout: 10000 };

describe("namespaces", () => {
  let server;
  let url;

  before(async () => {
    server = await harness.start();
    url = server.url;
  });
  after(async () => {
    await h.cleanup();
    if (server) await server.stop();
  });
  afterEach(() => h.cleanup());

  /** Checks root ('/') and custom ('/custom') sockets that share one Manager. */
  async function checkShared(root, custom) {
    assert.strictEqual(root.io, custom.io, "one Manager for both namespaces");
    const rootAuth = h.once(root, "auth", 5000);
    const customAuth = h.once(custom, "auth", 5000);
    await Promise.all([h.connected(root), h.connected(custom)]);
    assert.strictEqual(root.io.engine, custom.io.engine, "one Engine.IO connection");
    assert.deepStrictEqual((await rootAuth)[0], {});
    assert.deepStrictEqual((await customAuth)[0], { ns: "custom" });
    assert.notStrictEqual(root.id, custom.id);

    // Events are delivered per namespace.
    const rootGot = [];
    const customGot = [];
    root.on("message-back", (x) => rootGot.push(x));
    custom.on("message-back", (x) => customGot.push(x));
    root.emit("message", "to-root");
    custom.emit("message", "to-custom");
    await h.waitFor(() => rootGot.length && customGot.length, 3000, "both echoes");
    await h.delay(100);
    assert.deepStrictEqual(rootGot, ["to-root"]);
    assert.deepStrictEqual(customGot, ["to-custom"]);

    // Acks too.
    assert.deepStrictEqual(await h.emitAck(custom, "message-with-ack", "c"), ["c"]);
    assert.deepStrictEqual(await h.emitAck(root, "message-with-ack", "r"), ["r"]);

    // Rooms are per namespace: each socket has its own id room.
    assert.deepStrictEqual(await h.emitAck(custom, "rooms"), [[custom.id]]);
    assert.deepStrictEqual(await h.emitAck(root, "rooms"), [[root.id]]);

    // Leaving one namespace keeps the other (and the connection) alive.
    const engine = root.io.engine;
    custom.disconnect();
    await h.delay(100);
    assert.ok(root.connected);
    assert.strictEqual(root.io.engine, engine);
    assert.deepStrictEqual(await h.emitAck(root, "message-with-ack", "still"), ["still"]);
  }

  // NOTE: the only test in this file that uses socket.io-client's Manager cache
  // (io() without forceNew); the cache is keyed by host:port, so later io() calls
  // to the same server would not share a Manager any more.
  it("io(url) and io(url + '/custom') share one Manager and connection", TEST_TIMEOUT, async () => {
    const root = h.track(h.io(url, { reconnection: false, autoConnect: false }));
    const custom = h.track(h.io(`${url}/custom`, { autoConnect: false, auth: { ns: "custom" } }));
    h.track(root.io);
    await checkShared(root, custom);
  });

  for (const transports of [["websocket"], ["polling"]]) {
    it(`two namespaces over one Manager (${transports[0]})`, TEST_TIMEOUT, async () => {
      const manager = h.track(new h.Manager(url, { transports, reconnection: false, autoConnect: false }));
      const root = h.track(manager.socket("/"));
      const custom = h.track(manager.socket("/custom", { auth: { ns: "custom" } }));
      await checkShared(root, custom);
      assert.strictEqual(root.io.engine.transport.name, transports[0]);
    });
  }

  it("a dynamic namespace /dyn-abc works like the others", TEST_TIMEOUT, async () => {
    const socket = h.client(`${url}/dyn-abc`, { auth: { d: 1 } });
    const auth = h.once(socket, "auth", 5000);
    await h.connected(socket);
    assert.deepStrictEqual((await auth)[0], { d: 1 });
    const back = h.once(socket, "message-back");
    socket.emit("message", "dyn", Buffer.from([1, 2]));
    const [text, bin] = await back;
    assert.strictEqual(text, "dyn");
    assert.deepStrictEqual(h.toBuffer(bin), Buffer.from([1, 2]));
    assert.deepStrictEqual(await h.emitAck(socket, "message-with-ack", 5), [5]);
    assert.deepStrictEqual(await h.emitAck(socket, "join", "dr"), ["dr"]);
    const bc = h.once(socket, "dyn-bc");
    assert.deepStrictEqual(
      await h.emitAck(socket, "broadcast", { rooms: ["dr"], event: "dyn-bc", data: "d" }),
      ["ok"],
    );
    assert.deepStrictEqual(await bc, ["d"]);
  });

  it("two dynamic namespaces are separate", TEST_TIMEOUT, async () => {
    const a = await h.connect(`${url}/dyn-a1`, { transports: ["websocket"] });
    const b = await h.connect(`${url}/dyn-b2`, { transports: ["websocket"] });
    const bGot = [];
    b.onAny((ev) => ev === "dyn-only" && bGot.push(ev));
    const aGot = h.once(a, "dyn-only");
    await h.emitAck(a, "broadcast", { event: "dyn-only", data: 1 });
    await aGot;
    await h.delay(h.SETTLE_MS);
    assert.deepStrictEqual(bGot, []);
  });

  for (const nsp of ["/nope", "/dyn-ABC", "/dyn-", "/custom2", "/dyn-abc/x"]) {
    it(`an unknown namespace ${nsp} gets connect_error "Invalid namespace"`, TEST_TIMEOUT, async () => {
      const err = await h.connectError(`${url}${nsp}`, { transports: ["websocket"] });
      assert.strictEqual(err.message, "Invalid namespace");
    });
  }

  it("an unknown namespace is refused over polling too", TEST_TIMEOUT, async () => {
    const err = await h.connectError(`${url}/nope`, { transports: ["polling"] });
    assert.strictEqual(err.message, "Invalid namespace");
  });

  for (const transports of [["websocket"], ["polling"]]) {
    it(`middleware refusal on /custom -> connect_error with message and data (${transports[0]})`, TEST_TIMEOUT, async () => {
      const err = await h.connectError(`${url}/custom`, { transports, auth: { reject: true } });
      assert.strictEqual(err.message, "not authorized");
      assert.deepStrictEqual(err.data, { code: "E_REJECTED" });
    });
  }

  it("the /custom middleware lets other auth through", TEST_TIMEOUT, async () => {
    const socket = h.client(`${url}/custom`, { auth: { reject: false, who: "me" } });
    const auth = h.once(socket, "auth", 5000);
    await h.connected(socket);
    assert.deepStrictEqual((await auth)[0], { reject: false, who: "me" });
  });

  it("the middleware applies to /custom only", TEST_TIMEOUT, async () => {
    const socket = await h.connect(url, { auth: { reject: true } });
    assert.ok(socket.connected);
    const dyn = await h.connect(`${url}/dyn-x`, { auth: { reject: true } });
    assert.ok(dyn.connected);
  });

  it("a refused namespace on a shared connection leaves the other namespace working", TEST_TIMEOUT, async () => {
    const manager = h.track(new h.Manager(url, { transports: ["websocket"], reconnection: false, autoConnect: false }));
    const root = h.track(manager.socket("/"));
    await h.connected(root);
    const bad = h.track(manager.socket("/nope"));
    const refused = h.track(manager.socket("/custom", { auth: { reject: true } }));
    const badErr = h.once(bad, "connect_error", 5000);
    const refusedErr = h.once(refused, "connect_error", 5000);
    bad.connect();
    refused.connect();
    assert.strictEqual(bad.io, root.io);
    assert.strictEqual(refused.io, root.io);
    const [err1] = await badErr;
    const [err2] = await refusedErr;
    assert.strictEqual(err1.message, "Invalid namespace");
    assert.strictEqual(err2.message, "not authorized");
    assert.ok(root.connected);
    assert.deepStrictEqual(await h.emitAck(root, "message-with-ack", "alive"), ["alive"]);
  });

  it("a refused client can connect again with other auth", TEST_TIMEOUT, async () => {
    const socket = h.client(`${url}/custom`, { auth: { reject: true } });
    const p = h.once(socket, "connect_error", 5000);
    socket.connect();
    const [err] = await p;
    assert.strictEqual(err.message, "not authorized");
    socket.auth = { reject: false };
    await h.connected(socket);
    assert.deepStrictEqual(await h.emitAck(socket, "message-with-ack", 1), [1]);
  });
});

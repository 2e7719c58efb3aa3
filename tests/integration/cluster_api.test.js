// The C++ API's cluster-wide verbs through the backend API (docs/chat-protocol.md §6):
// GET /api/sockets (fetch_sockets), POST /api/sockets/join|leave|disconnect (sockets_join,
// sockets_leave, disconnect_sockets) and GET /api/nodes (server_side_emit with acks), on
// three real chat-server nodes with socket.io-client 4 clients spread over them, and on one
// node alone.
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const h = require("./helpers");
const c = require("./chat_helpers");
const harness = require("./harness");
const k = require("./cluster_helpers");

// The reference fixture (socket.io's echo) has no chat app and no cluster.
if (harness.isReference()) return;

const T = { timeout: 60000 };
const API_KEY = "api-key-for-tests";
const ARGS = ["--api-key", API_KEY];
const KEY = { "X-API-Key": API_KEY };

function api(node, path, opts = {}) {
  return c.httpJson(`${node.url}${path}`, { timeoutMs: 8000, ...opts, headers: { ...KEY, ...(opts.headers || {}) } });
}

async function sockets(node, query = "") {
  const body = k.expectStatus(await api(node, `/api/sockets${query}`), 200, `GET /api/sockets${query} on ${node.name}`);
  return body.sockets;
}

async function update(node, verb, body) {
  return k.expectStatus(await api(node, `/api/sockets/${verb}`, { method: "POST", body }), 200, `${verb} on ${node.name}`);
}

/** [id, node] of each listed socket, sorted by id. */
function where(list) {
  return list.map((s) => [s.id, s.node]).sort();
}

function expected(pairs) {
  return pairs.map(([socket, node]) => [socket.id, node.name]).sort();
}

describe("the socket-set verbs across three nodes", () => {
  afterEach(() => h.cleanup());

  it("fetch_sockets lists every node's sockets from any node, with rooms and except", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const sa = await c.chatConnect(a.url, { transports: ["websocket"], auth: { userId: "u-a" } });
      const sb = await c.chatConnect(b.url, { transports: ["websocket"], auth: { userId: "u-b" } });
      const sc = await c.chatConnect(cc.url, { transports: ["polling"], auth: { userId: "u-c" } });
      const all = expected([[sa, a], [sb, b], [sc, cc]]);
      for (const node of [a, b, cc]) assert.deepStrictEqual(where(await sockets(node)), all, `from ${node.name}`);
      // A socket's own room, and except, evaluated on the node that holds it.
      assert.deepStrictEqual(where(await sockets(a, `?room=${sc.id}`)), expected([[sc, cc]]));
      assert.deepStrictEqual(where(await sockets(cc, `?except=${sa.id}&except=${sb.id}`)), expected([[sc, cc]]));
      const [one] = await sockets(b, `?room=${sa.id}`);
      assert.strictEqual(one.namespace, "/");
      assert.ok(one.rooms.includes(sa.id), JSON.stringify(one));
      assert.strictEqual(one.address, "127.0.0.1");
      c.assertIso(one.connectedAt, "connectedAt");
      assert.ok(one.data && typeof one.data === "object", JSON.stringify(one));
      assert.deepStrictEqual(Object.keys(one).sort(), ["address", "connectedAt", "data", "id", "namespace", "node", "rooms"]);
      assert.deepStrictEqual(await sockets(a, "?namespace=/nowhere"), []);
    }),
  );

  it("sockets_join and sockets_leave change rooms on every node; a broadcast then follows them", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const sa = await c.chatConnect(a.url, { transports: ["websocket"] });
      const sb = await c.chatConnect(b.url, { transports: ["websocket"] });
      const sc = await c.chatConnect(cc.url, { transports: ["polling"] });
      // Every socket but sa joins "team" and "crew", asked on node b.
      assert.deepStrictEqual(await update(b, "join", { except: sa.id, join: ["team", "crew"] }), { status: "ok", sockets: 2 });
      assert.deepStrictEqual(where(await sockets(a, "?room=team")), expected([[sb, b], [sc, cc]]));
      // The rooms are the sockets' own: a room broadcast from node a reaches them once.
      const emitted = await api(a, "/api/emit", { method: "POST", body: { event: "news", data: { n: 1 }, room: "team" } });
      k.expectStatus(emitted, 200, "/api/emit");
      assert.deepStrictEqual(await c.takeAll([sb, sc], "news"), [{ n: 1 }, { n: 1 }]);
      await c.assertNone([sa, sb, sc], "news");
      // sb leaves "team" (asked on node c), keeps "crew".
      assert.deepStrictEqual(await update(cc, "leave", { room: sb.id, leave: "team" }), { status: "ok", sockets: 1 });
      assert.deepStrictEqual(where(await sockets(b, "?room=team")), expected([[sc, cc]]));
      assert.deepStrictEqual(where(await sockets(b, "?room=crew")), expected([[sb, b], [sc, cc]]));
      const [crew] = await sockets(a, `?room=${sb.id}`);
      assert.deepStrictEqual([...crew.rooms].sort(), ["crew", sb.id].sort());
      // Nothing matched: nothing changed, 0 sockets.
      assert.deepStrictEqual(await update(a, "join", { room: "nobody", join: "x" }), { status: "ok", sockets: 0 });
    }),
  );

  it("disconnect_sockets: a server disconnect on any node, the connection closed with close:true", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const sa = await c.chatConnect(a.url, { transports: ["websocket"] });
      const sb = await c.chatConnect(b.url, { transports: ["websocket"] });
      const sc = await c.chatConnect(cc.url, { transports: ["websocket"] });
      await update(a, "join", { room: [sb.id, sc.id], join: "leaving" });
      const bGone = h.once(sb, "disconnect", 5000);
      const cClosed = h.once(sc.io.engine, "close", 5000);
      const cGone = h.once(sc, "disconnect", 5000);
      assert.deepStrictEqual(await update(a, "disconnect", { room: "leaving", except: sc.id }), { status: "ok", sockets: 1 });
      assert.strictEqual((await bGone)[0], "io server disconnect");
      assert.deepStrictEqual(await update(b, "disconnect", { room: sc.id, close: true }), { status: "ok", sockets: 1 });
      assert.strictEqual((await cGone)[0], "io server disconnect");
      await cClosed;
      assert.deepStrictEqual(where(await sockets(cc)), expected([[sa, a]]));
      assert.ok(sa.connected);
    }),
  );

  it("GET /api/nodes: each node's figures through server_side_emit acks", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      await c.chatConnect(b.url, { transports: ["websocket"] });
      await c.chatConnect(b.url, { transports: ["websocket"] });
      await c.chatConnect(cc.url, { transports: ["websocket"] });
      for (const node of [a, b, cc]) {
        const body = k.expectStatus(await api(node, "/api/nodes"), 200, `/api/nodes on ${node.name}`);
        assert.deepStrictEqual(
          body.nodes.map((n) => [n.node, n.connections]),
          [["a", 0], ["b", 2], ["c", 1]],
          `from ${node.name}: ${JSON.stringify(body)}`,
        );
        for (const n of body.nodes) assert.ok(Number.isInteger(n.uptime) && n.uptime >= 0, JSON.stringify(n));
      }
    }),
  );

  it("a member killed mid-cluster: the answer comes without its sockets", T, () =>
    k.withCluster(3, ARGS, async ([a, b, cc]) => {
      const sa = await c.chatConnect(a.url, { transports: ["websocket"] });
      const sb = await c.chatConnect(b.url, { transports: ["websocket"] });
      await c.chatConnect(cc.url, { transports: ["websocket"] });
      cc.proc.kill("SIGKILL");
      // Asked at once (before or after a notices): c is left out, within the timeout.
      assert.deepStrictEqual(where(await sockets(a)), expected([[sa, a], [sb, b]]));
      const nodes = k.expectStatus(await api(b, "/api/nodes"), 200, "/api/nodes");
      assert.deepStrictEqual(nodes.nodes.map((n) => n.node), ["a", "b"]);
      assert.deepStrictEqual(await update(b, "join", { join: "after" }), { status: "ok", sockets: 2 });
    }),
  );
});

describe("the socket-set verbs on one node, and bad requests", () => {
  afterEach(() => h.cleanup());

  it("one node answers for itself (node empty)", T, () =>
    c.withChat(ARGS, async (server) => {
      const node = { ...server, name: "" };
      const s1 = await c.chatConnect(server.url, { transports: ["websocket"] });
      const s2 = await c.chatConnect(server.url, { transports: ["polling"] });
      assert.deepStrictEqual(await update(node, "join", { room: s2.id, join: "solo" }), { status: "ok", sockets: 1 });
      assert.deepStrictEqual(where(await sockets(node, "?room=solo")), [[s2.id, ""]]);
      assert.deepStrictEqual(where(await sockets(node)), [[s1.id, ""], [s2.id, ""]].sort());
      const nodes = k.expectStatus(await api(node, "/api/nodes"), 200, "/api/nodes");
      assert.deepStrictEqual(nodes.nodes.map((n) => [n.node, n.connections]), [["", 2]]);
      const gone = h.once(s1, "disconnect", 5000);
      assert.deepStrictEqual(await update(node, "disconnect", { except: "solo" }), { status: "ok", sockets: 1 });
      assert.strictEqual((await gone)[0], "io server disconnect");
    }),
  );

  it("bad input is 400 with the reason; no key is 401; an unknown verb 404", T, () =>
    c.withChat(ARGS, async (server) => {
      const node = { ...server, name: "" };
      const post = (verb, body) => api(node, `/api/sockets/${verb}`, { method: "POST", body });
      const cases = [
        [await post("join", {}), 400, /join is required/],
        [await post("join", { join: [] }), 400, /join must be/],
        [await post("join", { join: "x".repeat(257) }), 400, /join must be/],
        [await post("join", { join: Array.from({ length: 101 }, (_, i) => `r${i}`) }), 400, /join must be/],
        [await post("leave", { leave: { room: 1 } }), 400, /leave must be/],
        [await post("join", { join: "x", room: true }), 400, /room must be/],
        [await post("join", { join: "x", namespace: 5 }), 400, /namespace must be a string/],
        [await post("disconnect", { close: "yes" }), 400, /close must be a boolean/],
        [await post("disconnect", "[1]"), 400, /JSON object/],
        [await post("explode", {}), 404, /not found/],
        [await api(node, `/api/sockets?room=${"r".repeat(257)}`), 400, /room must be/],
        [await c.httpJson(`${server.url}/api/sockets`), 401, /Invalid API key/],
        [await c.httpJson(`${server.url}/api/nodes`, { headers: { "X-API-Key": "wrong" } }), 401, /Invalid API key/],
      ];
      for (const [res, status, error] of cases) {
        assert.strictEqual(res.status, status, res.body);
        assert.match(res.json.error, error);
      }
    }),
  );
});

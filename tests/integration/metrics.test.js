// GET /metrics: Prometheus text exposition format 0.0.4, served by default and turned off
// by `--metrics false`. The format is checked line by line; the figures are checked to
// follow what clients do (connections by transport, sockets, rooms, events, broadcasts,
// bytes, HTTP requests, store commits, disconnects, clients dropped for not reading).
"use strict";

const { describe, it, afterEach } = require("node:test");
const assert = require("node:assert");
const harness = require("./harness");
const h = require("./helpers");
const c = require("./chat_helpers");
const { startCluster } = require("./cluster_helpers");

const TEST_TIMEOUT = { timeout: 20000 };
const API_KEY = "metrics-key";

// -- the text format -------------------------------------------------------------------

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const LABEL_NAME = "[a-zA-Z_][a-zA-Z0-9_]*";
// A label value: anything but a raw backslash, quote or newline; escapes \\ \" \n.
const LABEL_VALUE = '"(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const LABEL = `${LABEL_NAME}=${LABEL_VALUE}`;
const NUMBER = "(?:[+-]?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:[eE][+-]?\\d+)?|[+-]?Inf|NaN)";
const HELP_RE = new RegExp(`^# HELP (${NAME}) ((?:[^\\\\\\n]|\\\\[\\\\n])*)$`);
const TYPE_RE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram)$`);
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (${NUMBER})(?: -?\\d+)?$`);
const ONE_LABEL_RE = new RegExp(`(${LABEL_NAME})=(${LABEL_VALUE})`, "g");

function parseNumber(text) {
  if (/^\+?Inf$/.test(text)) return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  return Number(text);
}

function parseLabels(text) {
  const labels = {};
  if (!text) return labels;
  for (const m of text.matchAll(ONE_LABEL_RE)) {
    assert.ok(!(m[1] in labels), `label ${m[1]} given twice in {${text}}`);
    labels[m[1]] = JSON.parse(m[2]); // \\ \" \n read the same as in JSON
  }
  return labels;
}

function labelKey(labels) {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(",");
}

/** The family a sample belongs to: a histogram's _bucket/_sum/_count go to its base name. */
function familyOf(name, types) {
  const m = /^(.*)_(bucket|sum|count)$/.exec(name);
  if (m && types.get(m[1]) === "histogram") return m[1];
  return name;
}

/**
 * Parses an exposition strictly: every line a HELP, a TYPE or a sample; every sample's
 * family has a TYPE line before it; a family's lines stay together; no series twice.
 * Returns {types, help, samples: [{name, labels, value}]}.
 */
function parseExposition(body) {
  assert.ok(body.length > 0, "empty /metrics body");
  assert.ok(body.endsWith("\n"), "the exposition must end with a newline");
  const lines = body.slice(0, -1).split("\n");
  const types = new Map();
  const help = new Map();
  const samples = [];
  const seriesSeen = new Set();
  const finished = new Set(); // families whose lines ended
  let current = null;
  const enter = (family, line) => {
    if (family === current) return;
    assert.ok(!finished.has(family), `family ${family} is split (line ${JSON.stringify(line)})`);
    if (current) finished.add(current);
    current = family;
  };
  for (const line of lines) {
    let m;
    if ((m = HELP_RE.exec(line))) {
      assert.ok(!help.has(m[1]), `second HELP for ${m[1]}`);
      enter(m[1], line);
      help.set(m[1], m[2]);
    } else if ((m = TYPE_RE.exec(line))) {
      assert.ok(!types.has(m[1]), `second TYPE for ${m[1]}`);
      enter(m[1], line);
      assert.ok(!samples.some((s) => familyOf(s.name, types) === m[1]), `TYPE for ${m[1]} after its samples`);
      types.set(m[1], m[2]);
    } else if ((m = SAMPLE_RE.exec(line))) {
      const name = m[1];
      const family = familyOf(name, types);
      assert.ok(types.has(family), `sample without a TYPE line: ${line}`);
      enter(family, line);
      const labels = parseLabels(m[2]);
      const value = parseNumber(m[3]);
      const series = `${name}{${labelKey(labels)}}`;
      assert.ok(!seriesSeen.has(series), `series given twice: ${series}`);
      seriesSeen.add(series);
      if (types.get(family) === "counter") {
        assert.ok(value >= 0, `counter below 0: ${line}`);
      }
      if (types.get(family) === "histogram") {
        assert.ok(name !== family, `a histogram sample must be _bucket, _sum or _count: ${line}`);
        if (name.endsWith("_bucket")) assert.ok("le" in labels, `bucket without le: ${line}`);
      }
      samples.push({ name, labels, value });
    } else {
      assert.fail(`not a HELP, TYPE or sample line: ${JSON.stringify(line)}`);
    }
  }
  return { types, help, samples };
}

/** GET /metrics, checked and parsed. */
async function scrape(server) {
  const res = await h.request(`${server.url}/metrics`);
  assert.strictEqual(res.status, 200, `/metrics: ${res.status} ${res.body}`);
  assert.ok(
    String(res.headers["content-type"]).startsWith("text/plain; version=0.0.4"),
    `content-type: ${res.headers["content-type"]}`,
  );
  return parseExposition(res.body);
}

/** The samples of name whose labels include `labels`. */
function find(m, name, labels = {}) {
  return m.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
}

/** The one series name{labels} (labels exactly), or undefined. */
function series(m, name, labels = {}) {
  const want = labelKey(labels);
  const s = m.samples.find((x) => x.name === name && labelKey(x.labels) === want);
  return s ? s.value : undefined;
}

/** The one series name{labels}; fails when it is missing. */
function value(m, name, labels = {}) {
  const v = series(m, name, labels);
  assert.ok(v !== undefined, `no series ${name}{${labelKey(labels)}}`);
  return v;
}

/** A series that may not exist yet (a labelled series appears with its first use): 0 then. */
function valueOr0(m, name, labels = {}) {
  const v = series(m, name, labels);
  return v === undefined ? 0 : v;
}

/** Checks a histogram family: cumulative buckets ending in +Inf, equal to _count. */
function checkHistogram(m, family) {
  assert.strictEqual(m.types.get(family), "histogram", `${family} is not a histogram`);
  const buckets = find(m, `${family}_bucket`).sort((a, b) => parseNumber(a.labels.le) - parseNumber(b.labels.le));
  assert.ok(buckets.length > 0, `${family} has no buckets`);
  for (let i = 1; i < buckets.length; i++) {
    assert.ok(buckets[i].value >= buckets[i - 1].value, `${family} buckets are not cumulative`);
  }
  const inf = series(m, `${family}_bucket`, { le: "+Inf" });
  assert.ok(inf !== undefined, `${family} has no le="+Inf" bucket`);
  assert.strictEqual(inf, value(m, `${family}_count`), `${family}: +Inf bucket != _count`);
  const sum = value(m, `${family}_sum`);
  assert.ok(sum >= 0, `${family}_sum ${sum}`);
  return { count: inf, sum };
}

async function withChatServer(args, fn) {
  const server = await harness.start(args, { app: "chat" });
  try {
    return await fn(server);
  } finally {
    await h.cleanup();
    await c.drained(server);
    await server.stop();
  }
}

if (!harness.isReference()) {
  describe("GET /metrics", () => {
    afterEach(() => h.cleanup());

    it("the parser itself: refuses what the format does not allow", () => {
      const ok = '# HELP a_total x\n# TYPE a_total counter\na_total{k="v",j="w\\"q"} 1.5e3\n';
      assert.strictEqual(parseExposition(ok).samples[0].labels.j, 'w"q');
      for (const bad of [
        "a_total 1\n", // no TYPE
        "# TYPE a counter\na{k=v} 1\n", // unquoted label
        "# TYPE a counter\na 1 \n", // trailing space
        "# TYPE a counter\na one\n", // not a number
        "# TYPE a summary\na 1\n", // a type the server does not use
        "# TYPE a gauge\n# TYPE b gauge\na 1\n", // a split family
        "# TYPE a gauge\na 1\na 2\n", // a series twice
        "# TYPE a gauge\na 1", // no final newline
        "# TYPE a gauge\n\na 1\n", // an empty line
      ]) {
        assert.throws(() => parseExposition(bad), undefined, `accepted ${JSON.stringify(bad)}`);
      }
    });

    it("is served by default in text format 0.0.4: HELP, TYPE and samples only", TEST_TIMEOUT, () =>
      withChatServer([], async (server) => {
        const res = await h.request(`${server.url}/metrics`);
        assert.strictEqual(res.status, 200);
        assert.ok(res.headers["content-type"].startsWith("text/plain; version=0.0.4"), res.headers["content-type"]);
        const m = parseExposition(res.body);
        // Every family has its HELP and TYPE.
        for (const family of m.types.keys()) assert.ok(m.help.has(family), `${family} has no HELP`);
        for (const family of m.help.keys()) assert.ok(m.types.has(family), `${family} has no TYPE`);
        const expected = {
          chat_connections: "gauge",
          chat_sockets: "gauge",
          chat_rooms: "gauge",
          chat_socket_connects_total: "counter",
          chat_socket_disconnects_total: "counter",
          chat_events_received_total: "counter",
          chat_received_bytes_total: "counter",
          chat_broadcasts_total: "counter",
          chat_deliveries_total: "counter",
          chat_sent_bytes_total: "counter",
          chat_clients_dropped_total: "counter",
          chat_http_requests_total: "counter",
          chat_store_queue: "gauge",
          chat_store_writes_total: "counter",
          chat_store_commit_seconds: "histogram",
          chat_cluster_members: "gauge",
          chat_draining: "gauge",
        };
        for (const [family, type] of Object.entries(expected)) {
          assert.strictEqual(m.types.get(family), type, `TYPE of ${family}`);
        }
        // Counters are named _total (histograms' own names excepted).
        for (const [family, type] of m.types) {
          if (type === "counter") assert.match(family, /_total$/, `counter ${family}`);
        }
        checkHistogram(m, "chat_store_commit_seconds");
        assert.strictEqual(value(m, "chat_cluster_members"), 0);
        assert.strictEqual(value(m, "chat_draining"), 0);
        // A second scrape parses the same way (and counts the first one).
        const again = await scrape(server);
        assert.ok(valueOr0(again, "chat_http_requests_total", { route: "/metrics", status: "200" }) >= 1, "the first scrape is not counted");
      }),
    );

    it("the figures follow the clients: connections, sockets, rooms, events, bytes, HTTP, store", TEST_TIMEOUT, () =>
      withChatServer([], async (server) => {
        const before = await scrape(server);

        const ws1 = await c.chatConnect(server.url, { transports: ["websocket"] });
        const ws2 = await c.chatConnect(server.url, { transports: ["websocket"] });
        const poll = await c.chatConnect(server.url, { transports: ["polling"] });
        const all = [ws1, ws2, poll];
        // The platform module greets every client of / on each connect.
        await c.takeAll(all, "user-connected", 3000, (d) => d && d.totalConnected === 3);

        const [ack1] = await h.emitAck(ws1, "join-room", "metrics-room");
        assert.strictEqual(ack1.status, "ok", JSON.stringify(ack1));
        const [ack2] = await h.emitAck(ws2, "join-room", "metrics-room");
        assert.strictEqual(ack2.status, "ok", JSON.stringify(ack2));
        const [ack3] = await h.emitAck(poll, "join-room", "metrics-room");
        assert.strictEqual(ack3.status, "ok", JSON.stringify(ack3));
        await ws1.inbox.take("user-joined", 3000, (d) => d && d.userId === ws2.id);
        await ws1.inbox.take("user-joined", 3000, (d) => d && d.userId === poll.id);
        await ws2.inbox.take("user-joined", 3000, (d) => d && d.userId === poll.id);

        const health = await h.request(`${server.url}/health`);
        assert.strictEqual(health.status, 200, health.body);

        // Store writes are committed in groups after the connect; wait for one to show.
        let after;
        await h.waitFor(
          async () => {
            after = await scrape(server);
            return value(after, "chat_store_writes_total") > value(before, "chat_store_writes_total");
          },
          3000,
          "a store write after the connects",
        );

        assert.strictEqual(value(after, "chat_connections", { transport: "websocket", protocol: "4" }), 2);
        assert.strictEqual(value(after, "chat_connections", { transport: "polling", protocol: "4" }), 1);
        assert.strictEqual(value(after, "chat_sockets", { namespace: "/" }), 3);
        assert.ok(value(after, "chat_rooms", { namespace: "/" }) >= 1, "chat_rooms{namespace=\"/\"}");

        for (const name of [
          "chat_events_received_total",
          "chat_received_bytes_total",
          "chat_broadcasts_total",
          "chat_deliveries_total",
          "chat_sent_bytes_total",
        ]) {
          assert.ok(value(after, name) > value(before, name), `${name} did not go up: ${value(before, name)} -> ${value(after, name)}`);
        }
        // Three join-room events at least (the polling client's included).
        assert.ok(value(after, "chat_events_received_total") - value(before, "chat_events_received_total") >= 3);
        assert.strictEqual(value(after, "chat_socket_connects_total") - value(before, "chat_socket_connects_total"), 3);

        assert.ok(valueOr0(after, "chat_http_requests_total", { route: "/health", status: "200" }) >= 1, "/health 200 not counted");
        const eio = (m) => valueOr0(m, "chat_http_requests_total", { route: "engine.io", status: "200" });
        assert.ok(eio(after) > eio(before), `engine.io 200 did not go up: ${eio(before)} -> ${eio(after)}`);

        const hBefore = checkHistogram(before, "chat_store_commit_seconds");
        const hAfter = checkHistogram(after, "chat_store_commit_seconds");
        assert.ok(hAfter.count > hBefore.count, `chat_store_commit_seconds_count: ${hBefore.count} -> ${hAfter.count}`);
        assert.ok(hAfter.sum >= hBefore.sum);
        assert.ok(series(after, "chat_store_queue") !== undefined, "no chat_store_queue");
        assert.ok(value(after, "chat_store_queue") >= 0);
        assert.strictEqual(value(after, "chat_cluster_members"), 0);
        assert.strictEqual(value(after, "chat_draining"), 0);

        // They leave: disconnects counted, connections back to 0.
        const disconnectsBefore = value(after, "chat_socket_disconnects_total");
        await h.cleanup();
        let gone;
        await h.waitFor(
          async () => {
            gone = await scrape(server);
            return (
              find(gone, "chat_connections").every((s) => s.value === 0) &&
              valueOr0(gone, "chat_sockets", { namespace: "/" }) === 0
            );
          },
          5000,
          "connections back to 0",
        );
        assert.ok(
          value(gone, "chat_socket_disconnects_total") - disconnectsBefore >= 3,
          `chat_socket_disconnects_total: ${disconnectsBefore} -> ${value(gone, "chat_socket_disconnects_total")}`,
        );
        assert.strictEqual(value(gone, "chat_sockets", { namespace: "/" }), 0);
      }),
    );

    it("the connection gauges are series of 0 before the first client and after the last", TEST_TIMEOUT, () =>
      withChatServer([], async (server) => {
        // A gauge that disappears at 0 reads as "no data" to Prometheus, not as 0.
        const WS = { transport: "websocket", protocol: "4" };
        const POLLING = { transport: "polling", protocol: "4" };
        const first = await scrape(server);
        assert.strictEqual(series(first, "chat_connections", WS), 0, "chat_connections{websocket,4} before any client");
        assert.strictEqual(series(first, "chat_connections", POLLING), 0, "chat_connections{polling,4} before any client");
        await c.chatConnect(server.url, { transports: ["websocket"] });
        await c.chatConnect(server.url, { transports: ["polling"] });
        const during = await scrape(server);
        assert.strictEqual(value(during, "chat_connections", WS), 1);
        assert.strictEqual(value(during, "chat_connections", POLLING), 1);
        await h.cleanup();
        await h.waitFor(
          async () => valueOr0(await scrape(server), "chat_sockets", { namespace: "/" }) === 0,
          5000,
          "the sockets gone",
        );
        await h.waitFor(
          async () => find(await scrape(server), "chat_connections").every((x) => x.value === 0),
          5000,
          "the connections gone",
        );
        const last = await scrape(server);
        assert.strictEqual(series(last, "chat_connections", WS), 0, "chat_connections{websocket,4} after the last client");
        assert.strictEqual(series(last, "chat_connections", POLLING), 0, "chat_connections{polling,4} after the last client");
      }),
    );

    it("a client that stops reading is dropped and counted (reason write_queue)", TEST_TIMEOUT, () =>
      withChatServer(["--max-queue-bytes", "65536", "--api-key", API_KEY], async (server) => {
        const dropped = (m) => value(m, "chat_clients_dropped_total", { reason: "write_queue" });
        const before = dropped(await scrape(server));

        // A raw Socket.IO client on /; then its TCP socket (ws keeps the net.Socket in
        // _socket) stops being read.
        const stalled = await h.rawSioWs(server.url);
        assert.ok(stalled._socket && typeof stalled._socket.pause === "function", "no net.Socket under the ws");
        stalled._socket.pause();
        // A reading client, to see that the emits do go out.
        const reader = await c.chatConnect(server.url, { transports: ["websocket"] });

        // 16 KiB per emit (well under the 64 KiB queue), to everyone on /, until the
        // stalled client has been dropped (the kernel buffers take a few MB first). Each
        // emit waits until the reading client got the one before, so that client never
        // has more than one frame on its way.
        const data = "x".repeat(16 * 1024);
        let now = before;
        let floods = 0;
        for (let i = 0; i < 2000 && now === before; i++) {
          const res = await c.httpJson(`${server.url}/api/emit`, {
            method: "POST",
            headers: { "X-API-Key": API_KEY },
            body: { event: "flood", data: { i, data } },
          });
          assert.strictEqual(res.status, 200, res.body);
          const [got] = await reader.inbox.take("flood");
          assert.strictEqual(got.i, i, "the reading client got the floods out of order");
          floods++;
          if (i % 25 === 24) now = dropped(await scrape(server));
        }
        await h.waitFor(async () => dropped(await scrape(server)) > before, 3000, "chat_clients_dropped_total to go up");
        const m = await scrape(server);
        assert.strictEqual(dropped(m), before + 1, "only the stalled client is dropped");
        assert.strictEqual(value(m, "chat_clients_dropped_total", { reason: "polling_buffer" }), 0);
        // The reading client is still there and got the floods.
        assert.ok(reader.connected, "the reading client was dropped too");
        assert.ok(floods > 0, "the reading client got no flood");
        assert.strictEqual(value(m, "chat_connections", { transport: "websocket", protocol: "4" }), 1);
        // The stalled client's connection is closed (it sees the end once it reads again).
        stalled._socket.resume();
        await h.withTimeout(stalled.closed, 5000, "the stalled client's close");
      }),
    );

    it("--metrics false: /metrics answers 404", TEST_TIMEOUT, () =>
      withChatServer(["--metrics", "false"], async (server) => {
        const res = await h.request(`${server.url}/metrics`);
        assert.strictEqual(res.status, 404, res.body);
        const health = await h.request(`${server.url}/health`);
        assert.strictEqual(health.status, 200);
      }),
    );

    it("a cluster: each node counts its own sockets and lists the members it sees up", { timeout: 40000 }, async () => {
      const cluster = await startCluster(["a", "b"], { failureTimeoutMs: 1000 });
      try {
        const { a, b } = cluster.byName;
        await h.connect(b.url, { transports: ["websocket"] });
        const m = await scrape(a);
        assert.strictEqual(value(m, "chat_cluster_members"), 2);
        assert.strictEqual(value(m, "chat_cluster_member_up", { node: "a" }), 1);
        assert.strictEqual(value(m, "chat_cluster_member_up", { node: "b" }), 1);
        assert.strictEqual(valueOr0(m, "chat_connections", { transport: "websocket", protocol: "4" }), 0, "b's client is b's");
        const onB = await scrape(b);
        assert.strictEqual(value(onB, "chat_connections", { transport: "websocket", protocol: "4" }), 1);
        await h.cleanup();
        await b.stop();
        await h.waitFor(async () => value(await scrape(a), "chat_cluster_members") === 1, 8000, "b seen gone");
        const after = await scrape(a);
        assert.strictEqual(find(after, "chat_cluster_member_up", { node: "b" }).length, 0, "b is no longer listed");
        assert.strictEqual(value(after, "chat_cluster_member_up", { node: "a" }), 1);
      } finally {
        await cluster.stopAll();
      }
    });
  });
}

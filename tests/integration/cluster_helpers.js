// Several chat-server processes as one cluster (README, "Running several nodes"): each
// node a real process on 127.0.0.1 (or a loopback address of its own, opts.hosts) with
// its own --db, HTTP port picked by the server and a cluster port picked here (the seeds
// must be known before the nodes start). Every node lists every cluster port as a seed,
// so a node that restarts finds the others.
"use strict";

const assert = require("node:assert");
const net = require("node:net");
const harness = require("./harness");
const h = require("./helpers");

const SECRET = "cluster-test-secret";

/** A TCP port free on host (default 127.0.0.1) right now (listen on 0, close). */
function freePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function health(node) {
  return JSON.parse((await h.request(`${node.url}/health`, { timeoutMs: 1000 })).body);
}

/** Waits until each of `nodes` lists exactly the names `names` as members. */
async function waitMembers(nodes, names, timeoutMs = 8000) {
  const want = [...names].sort().join(",");
  await h.waitFor(
    async () => {
      for (const n of nodes) {
        const body = await health(n).catch(() => null);
        if (!body || !body.cluster || [...body.cluster.members].sort().join(",") !== want) return false;
      }
      return true;
    },
    timeoutMs,
    `cluster members ${want}`,
  );
}

/**
 * Starts the nodes `names` (default a, b, c) and waits until they form one cluster.
 * opts: {secret, args (for every node), nodeArgs: {name: [...]}, failureTimeoutMs,
 * hosts: {name: address} (default 127.0.0.1: the node's HTTP and cluster address),
 * db: the store every node uses (a mongodb:// URI; default: a SQLite file each)}.
 * Returns {nodes, byName, start(name, extra), stopAll()}; a node is harness.start's
 * server plus {name, clusterPort}.
 */
async function startCluster(names = ["a", "b", "c"], opts = {}) {
  const secret = opts.secret || SECRET;
  const ports = {};
  const hostOf = (n) => (opts.hosts && opts.hosts[n]) || "127.0.0.1";
  for (const n of names) ports[n] = await freePort(hostOf(n));
  const seeds = names.map((n) => `${hostOf(n)}:${ports[n]}`).join(",");
  const byName = {};
  const cluster = {
    nodes: [],
    byName,
    ports,
    seeds,
    /** Starts node `name` (again, after a kill) with its cluster port. */
    async start(name, extra = {}) {
      if (!ports[name]) ports[name] = await freePort(hostOf(name));
      const args = [
        "--node-id",
        name,
        "--cluster-listen",
        `${hostOf(name)}:${ports[name]}`,
        "--cluster-seeds",
        extra.seeds || seeds,
        "--cluster-secret",
        extra.secret || secret,
        "--cluster-failure-timeout",
        String(opts.failureTimeoutMs || 2000),
        ...(opts.args || []),
        ...((opts.nodeArgs && opts.nodeArgs[name]) || []),
        ...(extra.args || []),
      ];
      const server = await harness.start(args, { app: "chat", db: extra.db || opts.db, host: hostOf(name) });
      const node = Object.assign(server, { name, clusterPort: ports[name] });
      byName[name] = node;
      cluster.nodes = Object.values(byName);
      return node;
    },
    async stopAll() {
      await h.cleanup();
      await Promise.all(Object.values(byName).map((n) => n.stop()));
    },
  };
  for (const n of names) await cluster.start(n);
  await waitMembers(cluster.nodes, names);
  return cluster;
}

const NAMES = ["a", "b", "c", "d", "e"];

/**
 * Runs fn(nodes) against n nodes (a, b, c, ...) started with extraArgs each and formed,
 * then closes the clients and stops every node.
 */
async function withCluster(n, extraArgs, fn) {
  const cluster = await startCluster(NAMES.slice(0, n), { args: extraArgs });
  try {
    return await fn(NAMES.slice(0, n).map((name) => cluster.byName[name]));
  } finally {
    await cluster.stopAll();
  }
}

/** Asserts a response's status, naming its body when it differs; returns its JSON. */
function expectStatus(res, status, what) {
  assert.strictEqual(res.status, status, `${what}: ${res.status} ${res.body}`);
  return res.json;
}

module.exports = { startCluster, waitMembers, withCluster, expectStatus, freePort, health, SECRET };

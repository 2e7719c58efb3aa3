// Several chat-server nodes of one cluster on 127.0.0.1 (README, "Running several
// nodes"): each node has its own store and HTTP port (port 0), a cluster port picked
// before it starts (the seeds must know it), and every node joins through the first.
// withCluster(n, extraArgs, fn) runs fn(nodes) once every node's /health lists every
// member, then closes the clients and stops every node that is still running.
"use strict";

const assert = require("node:assert");
const net = require("node:net");
const h = require("./helpers");
const c = require("./chat_helpers");

const SECRET = "cluster-secret-for-tests";
const NAMES = ["a", "b", "c", "d", "e"];
const FORM_TIMEOUT_MS = 15000;

/** A port nobody listens on now (a throwaway listen(0), closed). */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function health(node, timeoutMs = 1000) {
  const res = await h.request(`${node.url}/health`, { timeoutMs });
  return JSON.parse(res.body);
}

/** Resolves once every running node's /health lists exactly `names` as members. */
async function formed(nodes, names = nodes.map((n) => n.name)) {
  const want = [...names].sort();
  let last = {};
  try {
    await h.waitFor(
      async () => {
        for (const node of nodes) {
          const body = await health(node).catch(() => ({}));
          last[node.name] = body.cluster && body.cluster.members;
          if (!body.cluster || JSON.stringify([...body.cluster.members].sort()) !== JSON.stringify(want)) return false;
        }
        return true;
      },
      FORM_TIMEOUT_MS,
      `the cluster ${want.join(",")}`,
    );
  } catch (err) {
    err.message += `; members seen: ${JSON.stringify(last)}`;
    throw err;
  }
}

/** Starts n nodes (a, b, c, ...) with extraArgs each; resolves with them once formed. */
async function startCluster(n, extraArgs = []) {
  const ports = await Promise.all(Array.from({ length: n }, freePort));
  const seeds = `127.0.0.1:${ports[0]}`;
  const started = await Promise.allSettled(
    ports.map((port, i) =>
      c.startChat([
        ...extraArgs,
        "--node-id", NAMES[i],
        "--cluster-listen", `127.0.0.1:${port}`,
        "--cluster-seeds", seeds,
        "--cluster-secret", SECRET,
        "--cluster-failure-timeout", "2000",
      ]),
    ),
  );
  const nodes = started.filter((s) => s.status === "fulfilled").map((s) => s.value);
  const failed = started.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw failed.reason;
  }
  nodes.forEach((node, i) => (node.name = NAMES[i]));
  try {
    await formed(nodes);
  } catch (err) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw err;
  }
  return nodes;
}

async function withCluster(n, extraArgs, fn) {
  const nodes = await startCluster(n, extraArgs);
  try {
    return await fn(nodes);
  } finally {
    await h.cleanup();
    await Promise.all(nodes.map((node) => node.stop()));
  }
}

/** Asserts a response's status, naming its body when it differs. */
function expectStatus(res, status, what) {
  assert.strictEqual(res.status, status, `${what}: ${res.status} ${res.body}`);
  return res.json;
}

module.exports = { SECRET, freePort, health, formed, startCluster, withCluster, expectStatus };

// The servers the comparison runs against, each a child process of its own: ours (dist/server.js
// on a fresh PostgreSQL database), node-oidc-provider durable (its own fresh database) and in
// memory, and the two ceilings serving our discovery document and JWKS byte for byte.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DISCOVERY_PATH, JWKS_PATH } from './workloads.mjs';
import { freePort, startOurServer, startProcess, stopServer, waitForReady } from './processes.mjs';

export const TARGET_LABELS = {
  ours: 'ours',
  'peer-durable': 'peer durable',
  'peer-memory': 'peer in-memory',
  'bare-fastify': 'bare Fastify',
  'bare-http': 'bare node:http',
};

function target(key, port, server) {
  const url = `http://127.0.0.1:${port}`;
  return { key, label: TARGET_LABELS[key], url, issuer: url, server };
}

// Each start function adds its target to `started` before waiting for it, so the caller can stop
// whatever did start when a later one fails.

/** Ours; `profileName` runs it under --cpu-prof. */
export async function startOurs(started, databaseUrl, { profileName = null, serverEnv = {} } = {}) {
  const port = await freePort();
  const ours = target('ours', port, startOurServer(port, databaseUrl, profileName, serverEnv));
  started.push(ours);
  await waitForReady(ours.url, ours.server);
  return ours;
}

/** node-oidc-provider in `mode` memory or postgres (bench/peer/oidc-provider-server.mjs). */
export async function startPeer(started, mode, databaseUrl) {
  const port = await freePort();
  const env = { PEER_PORT: String(port), PEER_MODE: mode, NODE_ENV: 'production', ...(databaseUrl ? { PEER_DATABASE_URL: databaseUrl } : {}) };
  const peer = target(mode === 'postgres' ? 'peer-durable' : 'peer-memory', port, startProcess(['bench/peer/oidc-provider-server.mjs'], env, `peer (${mode})`));
  started.push(peer);
  await waitForReady(peer.url, peer.server, DISCOVERY_PATH);
  return peer;
}

/** Our discovery document and JWKS as served: body bytes and content type. */
async function ourDocuments(ours) {
  const documents = {};
  for (const path of [DISCOVERY_PATH, JWKS_PATH]) {
    const response = await fetch(`${ours.url}${path}`);
    if (response.status !== 200) throw new Error(`GET ${path} on ours gave ${response.status}`);
    documents[path] = { contentType: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()).toString('base64') };
  }
  return documents;
}

/** Bare Fastify and bare node:http with our documents' bytes (bench/ceiling-servers.mjs). */
export async function startCeilings(started, ours) {
  const directory = mkdtempSync(join(tmpdir(), 'bench-ceiling-'));
  const file = join(directory, 'documents.json');
  writeFileSync(file, JSON.stringify(await ourDocuments(ours)));
  try {
    const ceilings = [];
    for (const kind of ['fastify', 'http']) {
      const port = await freePort();
      const ceiling = target(`bare-${kind}`, port, startProcess(['bench/ceiling-servers.mjs'], { CEILING_KIND: kind, CEILING_PORT: String(port), CEILING_DOCUMENTS: file, NODE_ENV: 'production' }, `bare ${kind}`));
      ceilings.push(ceiling);
      started.push(ceiling);
      await waitForReady(ceiling.url, ceiling.server, DISCOVERY_PATH);
    }
    return ceilings;
  } finally {
    // read at start-up; not needed once they listen
    rmSync(directory, { recursive: true, force: true });
  }
}

export async function stopTargets(targets) {
  const exits = {};
  for (const t of targets) exits[t.key] = await stopServer(t.server);
  return exits;
}

// The bench's throw-away databases: named by BENCH_DATABASE_NAME (default registrar_bench) so two
// benches on one machine do not drop each other's data; the peer's durable mode gets its own,
// derived from it.

import pg from 'pg';

const NAME_PATTERN = /^[a-z_][a-z0-9_]{0,50}$/;

/** The admin connection (for CREATE/DROP DATABASE) and the names of the bench's databases. */
export function databaseSettings() {
  const adminUrl = process.env.BENCH_DATABASE_URL || 'postgres://postgres@127.0.0.1:5432/test';
  const name = process.env.BENCH_DATABASE_NAME || 'registrar_bench';
  // it goes into CREATE/DROP DATABASE unquoted: keep it a plain identifier
  if (!NAME_PATTERN.test(name)) throw new Error(`BENCH_DATABASE_NAME must be a lower-case identifier (a-z, 0-9, _), got "${name}"`);
  return { adminUrl, name, peerName: `${name}_peer` };
}

/** The URL of database `name` on the same server and credentials as the admin connection. */
export function databaseUrl(adminUrl, name) {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.href;
}

export async function withClient(url, work) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database every run, so earlier runs' rows do not change the figures. */
export async function recreateDatabase(adminUrl, name) {
  await withClient(adminUrl, async (client) => {
    await client.query(`DROP DATABASE IF EXISTS ${name}`);
    await client.query(`CREATE DATABASE ${name}`);
  });
}

export async function dropDatabase(adminUrl, name) {
  await withClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name}`));
}

/**
 * Adds `count` clients by SQL, numbered from `from`: public clients (no secret) of the usual
 * web shape, redirect URIs included, each with a registration token hash, as registration stores them.
 */
export async function bulkLoadClients(url, count, from = 1) {
  await withClient(url, (client) =>
    client.query(
      `INSERT INTO clients (client_id, metadata, registration_token_hash, client_id_issued_at)
       SELECT 'bulk' || lpad(i::text, 12, '0'),
              jsonb_build_object('client_name', 'Bulk ' || i, 'token_endpoint_auth_method', 'none',
                                 'grant_types', jsonb_build_array('authorization_code'), 'response_types', jsonb_build_array('code'),
                                 'redirect_uris', jsonb_build_array('https://rp' || i || '.example/cb'), 'application_type', 'web'),
              sha256(i::text::bytea), 1600000000 + i
         FROM generate_series($1::int, $1::int + $2::int - 1) AS i`,
      [from, count],
    ),
  );
}

#!/usr/bin/env bash
# Container smoke test: builds the production image with podman, runs it against a fresh PostgreSQL
# database, registers a client and reads it back, checks the server runs as non-root, then stops it
# with SIGTERM and expects a clean exit (0).
#
# Needs: podman (rootful, --network=host), curl, psql and node on the host, PostgreSQL reachable at
# $PGHOST:$PGPORT as $PGUSER (defaults 127.0.0.1:5432, postgres; trust auth).
# Knobs: SMOKE_PORT (default: a free port), SMOKE_DB (default registrar_smoke),
#        SMOKE_IMAGE (default oidc-registrar:smoke), SMOKE_READY_TIMEOUT seconds (default 60).
set -euo pipefail

root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
cd "$root"

PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
export PGHOST PGPORT PGUSER
image=${SMOKE_IMAGE:-oidc-registrar:smoke}
db=${SMOKE_DB:-registrar_smoke}
ready_timeout=${SMOKE_READY_TIMEOUT:-60}
name="oidc-registrar-smoke-$$"
started=$SECONDS

log() { printf 'container smoke: %s\n' "$*"; }
fail() {
  printf 'container smoke: FAILED: %s\n' "$*" >&2
  if podman container exists "$name" 2>/dev/null; then
    printf -- '----- container logs (%s) -----\n' "$name" >&2
    podman logs "$name" >&2 || true
    printf -- '----- end of container logs -----\n' >&2
  fi
  exit 1
}
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  psql -X -q -d test -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# JSON field from stdin (no jq needed): json_field client_id < body.json
json_field() {
  node -e 'let s="";process.stdin.on("data",(d)=>s+=d).on("end",()=>{const v=JSON.parse(s)[process.argv[1]];if(typeof v!=="string"||v==="")process.exit(1);process.stdout.write(v)})' "$1"
}

# --- base images: stand-ins for node:24 / node:24-slim when there is no registry ---
if ! command -v podman >/dev/null 2>&1 || ! podman image exists docker.io/library/node:24-slim; then
  log "podman or the node:24 base images missing: running container-base"
  "$root/../shared/tools/container-base" 24
fi

# Without systemd (CI containers), podman cannot schedule periodic health checks and says so on
# every run/stop/rm; `podman healthcheck run` below still works. Drop only that noise.
podman_q() { podman "$@" 2> >(grep -v 'unable to get systemd connection' >&2); }

# --- build ---
# --format docker: podman's default OCI format silently drops HEALTHCHECK (Docker keeps it).
log "building $image"
build_start=$SECONDS
podman build --pull=never --network=host --format docker -t "$image" . || fail "image build failed"
log "image built in $((SECONDS - build_start))s"

# --- fresh database ---
PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 -d test \
  -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" \
  -c "CREATE DATABASE \"$db\"" || fail "could not create database $db on $PGHOST:$PGPORT"

# --- run ---
port=${SMOKE_PORT:-$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
base="http://127.0.0.1:$port"
secrets_key=$(node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("base64"))')
log "starting $name on port $port"
podman_q run -d --name "$name" --network=host \
  -e PORT="$port" \
  -e ISSUER="$base" \
  -e DATABASE_URL="postgres://$PGUSER@$PGHOST:$PGPORT/$db" \
  -e SECRETS_KEY="$secrets_key" \
  "$image" >/dev/null || fail "podman run failed"

deadline=$((SECONDS + ready_timeout))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$base/readyz" || true)" = 200 ]; do
  if [ "$(podman inspect --format '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
    fail "container exited before becoming ready (exit code $(podman inspect --format '{{.State.ExitCode}}' "$name" 2>/dev/null || echo '?'))"
  fi
  [ $SECONDS -lt $deadline ] || fail "/readyz did not answer 200 within ${ready_timeout}s"
  sleep 1
done
log "ready after $((SECONDS - deadline + ready_timeout))s"

# --- the image's own HEALTHCHECK (node fetch of /readyz) ---
health=$(podman_q healthcheck run "$name") || fail "image HEALTHCHECK failed or is missing: ${health:-no output}"
log "image HEALTHCHECK passes"

tmp=$(mktemp -d)
trap 'cleanup; rm -rf "$tmp"' EXIT

# --- discovery ---
status=$(curl -s -o "$tmp/discovery.json" -w '%{http_code}' "$base/.well-known/openid-configuration") || fail "discovery request failed"
[ "$status" = 200 ] || fail "GET /.well-known/openid-configuration answered $status"
[ "$(json_field issuer < "$tmp/discovery.json")" = "$base" ] || fail "discovery issuer is not $base: $(cat "$tmp/discovery.json")"

# --- register (RFC 7591) ---
status=$(curl -s -o "$tmp/register.json" -w '%{http_code}' -X POST "$base/register" \
  -H 'content-type: application/json' \
  --data '{"redirect_uris":["https://rp.example/cb"],"client_name":"smoke"}') || fail "POST /register failed"
[ "$status" = 201 ] || fail "POST /register answered $status: $(cat "$tmp/register.json")"
client_id=$(json_field client_id < "$tmp/register.json") || fail "no client_id in $(cat "$tmp/register.json")"
token=$(json_field registration_access_token < "$tmp/register.json") || fail "no registration_access_token"
client_uri=$(json_field registration_client_uri < "$tmp/register.json") || fail "no registration_client_uri"
log "registered client $client_id"

# --- read back (RFC 7592) ---
status=$(curl -s -o "$tmp/read.json" -w '%{http_code}' -H "authorization: Bearer $token" "$client_uri") || fail "GET $client_uri failed"
[ "$status" = 200 ] || fail "GET $client_uri answered $status: $(cat "$tmp/read.json")"
[ "$(json_field client_id < "$tmp/read.json")" = "$client_id" ] || fail "read-back client_id differs: $(cat "$tmp/read.json")"
[ "$(json_field client_name < "$tmp/read.json")" = smoke ] || fail "read-back client_name differs: $(cat "$tmp/read.json")"
status=$(curl -s -o /dev/null -w '%{http_code}' -H 'authorization: Bearer wrong-token' "$client_uri") || true
[ "$status" = 401 ] || fail "GET $client_uri with a wrong token answered $status, expected 401"
log "read back client $client_id with its registration access token"

# --- non-root ---
exec_uid=$(podman exec "$name" id -u) || fail "podman exec id -u failed"
[ "$exec_uid" != 0 ] || fail "container user is root"
server_uid=$(podman exec "$name" node -e 'process.stdout.write(require("fs").readFileSync("/proc/1/status","utf8").match(/^Uid:\s+(\d+)/m)[1])') \
  || fail "could not read the server's uid"
[ "$server_uid" != 0 ] || fail "the server process (pid 1) runs as root"
log "server runs as uid $server_uid"

# --- the operator command is on the PATH, and sees the server's database ---
cli_help=$(podman exec "$name" oidc-registrar --help) || fail "oidc-registrar --help failed in the container"
case "$cli_help" in *"Usage: oidc-registrar"*) ;; *) fail "unexpected oidc-registrar --help: $cli_help" ;; esac
migrated=$(podman exec "$name" oidc-registrar migrate) || fail "oidc-registrar migrate failed in the container"
[ "$migrated" = "the database is up to date" ] || fail "oidc-registrar migrate printed: $migrated"
log "oidc-registrar is on the PATH; migrate finds the database up to date"

# --- graceful stop: exit 0 means the SIGTERM handler closed the server (pid 1 has no default
# SIGTERM action, so without a handler podman would SIGKILL after 15 s: exit 137) ---
podman_q stop -t 15 "$name" >/dev/null || fail "podman stop failed"
exit_code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$exit_code" = 0 ] || fail "container exited $exit_code after SIGTERM, expected 0"
log "stopped cleanly on SIGTERM (exit 0)"

log "passed in $((SECONDS - started))s"

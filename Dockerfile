# oidc-registrar container image.
#   docker build -t oidc-registrar .
#   podman build --pull=never --network=host -t oidc-registrar .
# Note: podman/buildah write OCI images by default, which have no HEALTHCHECK; add
# `--format docker` (or BUILDAH_FORMAT=docker) to keep it. Docker always keeps it.

# ---- build: all dependencies, compile TypeScript to dist/ ----
FROM node:24 AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && rm -f dist/.tsbuildinfo

# ---- runtime: production dependencies, compiled code, migrations; runs as `node` ----
FROM node:24-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf "$(npm config get cache)"
# dist/ and migrations/ side by side: dist/storage/migrate.js reads ../../migrations at runtime.
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
# The operator command on the PATH: `podman exec <container> oidc-registrar clients list`.
RUN chmod +x /app/dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/oidc-registrar
# Code stays root-owned (read-only to the server); only the embedded-database dir is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/readyz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/server.js"]

# syntax=docker/dockerfile:1
# Why this file exists: the production image of the mailroom daemon. Build stage compiles the
# TypeScript; the runtime stage carries only production dependencies, the compiled dist/, the
# CLI entry point, the JSON Schema and the example config, and runs as the non-root `node` user.
# test/deploy/production-layout.test.ts rebuilds this same layout outside a container (copy the
# same files, `npm ci --omit=dev --ignore-scripts`, run as a non-root user with a read-only config
# dir) because no container engine is available where the tests run: keep the two in step.

############################ build ############################
FROM node:24-bookworm-slim AS build
WORKDIR /app
# Dependencies first so this layer is cached until the lock file changes. --ignore-scripts: the
# package's own `prepare` (tsc) would run before the sources are copied; it is run below instead.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

############################ runtime ############################
FROM node:24-bookworm-slim AS runtime
# The example config reads server.listen and store.path from these variables
# (`${MAILROOM_LISTEN:-127.0.0.1:9465}`, `${MAILROOM_DATA:-./data}`): in a container, listen on every
# address of the container's network namespace and keep data on the /var/lib/mailroom volume.
# A config of your own may use the same placeholders or set the values outright.
ENV NODE_ENV=production \
    MAILROOM_LISTEN=0.0.0.0:9465 \
    MAILROOM_DATA=/var/lib/mailroom
WORKDIR /app
# Production dependencies only; no install scripts run (none are needed at run time).
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY schemas ./schemas
# The example config, as the package ships it, and as the container's default /etc/mailroom.
# Mount your own config over /etc/mailroom (a ConfigMap in Kubernetes, a bind mount with Docker);
# it stays root-owned and read-only to the daemon, which hot-reloads it when it changes.
COPY config ./config
COPY config /etc/mailroom
# Data (store.path): owned by `node` (uid 1000), declared a volume so it outlives the container.
RUN mkdir -p /var/lib/mailroom && chown node:node /var/lib/mailroom && chmod 0750 /var/lib/mailroom
VOLUME ["/var/lib/mailroom"]

USER node
# server.listen (MAILROOM_LISTEN): /-/healthy, /-/ready, /-/reload, /metrics, /v1/...
EXPOSE 9465
# Liveness via node itself: the slim image has no curl or wget. Change the port here if you move
# server.listen; Kubernetes ignores HEALTHCHECK and uses the probes in deploy/kubernetes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9465/-/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, no shell and no init: node is PID 1 and receives SIGTERM directly. The kernel gives
# PID 1 no default signal actions, which is fine because the daemon installs its own SIGTERM/SIGINT
# handlers (stop taking work, finish in-flight commits, flush, exit 0 within its 30 s deadline; a
# second signal forces exit; SIGHUP reloads the config). It spawns no child processes (parsing
# uses worker threads), so there are no zombies to reap and `docker run --init` / tini is not
# needed. Give it more than its deadline: `docker stop -t 40`; terminationGracePeriodSeconds: 60.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/mailroom.js"]
CMD ["run", "--config", "/etc/mailroom"]

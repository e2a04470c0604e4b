# One image recipe for every app:
#   docker build --build-arg APP=order-service -t microservices-reference/order-service .
# APP is one of registry, gateway, user-service, order-service, payment-service.
#
#   workspace  the repository with every dependency (the `demo` service of docker-compose.yml runs here)
#   build      `nx build $APP`: the app bundled to dist/apps/$APP (main.js, source map, migrations)
#   runtime    (the default target) slim Node 20, production packages only, the bundle, a non-root
#              user, an entrypoint that resolves ADVERTISE_HOST=auto, and a HEALTHCHECK on /health
#
# The layers before `ARG APP` are the same for every app, so building all five installs once.
# Configuration is the apps' usual environment variables (README, "Configuration").
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS workspace
WORKDIR /repo
ENV NX_DAEMON=false NX_NO_CLOUD=true
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .

FROM workspace AS build
ARG APP
RUN test -n "${APP}" || { echo "build with --build-arg APP=<registry|gateway|user-service|order-service|payment-service>" >&2; exit 1; }
RUN npx nx build "${APP}" --outputStyle=static

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json also says "type": "module", which the ESM bundle needs.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY tools/docker/docker-entrypoint.sh /usr/local/lib/msr/docker-entrypoint.sh
COPY tools/docker/healthcheck.mjs /usr/local/lib/msr/healthcheck.mjs
ARG APP
# In a container: listen on every interface and register the container's own address.
ENV APP=${APP} HOST=0.0.0.0 ADVERTISE_HOST=auto
COPY --from=build /repo/dist/apps/${APP} ./
USER node
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --retries=5 CMD ["node", "/usr/local/lib/msr/healthcheck.mjs"]
ENTRYPOINT ["/bin/sh", "/usr/local/lib/msr/docker-entrypoint.sh"]
CMD ["node", "--enable-source-maps", "main.js"]

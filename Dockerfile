# Vigil's container image: `docker build -t vigil .` from the repository root.
# SQLite in the /data volume by default; PostgreSQL by VIGIL_DATABASE_URL=postgres://…
# (deploy/docker-compose.yml runs it that way). Runs as the unprivileged `node` user.

FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: nothing to build yet, and the image needs none of the install scripts
# (better-sqlite3 ships its compiled binary; the `node` dev dependency is for npm scripts only).
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY web ./web
COPY scripts/bundle-cli.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    VIGIL_HOST=0.0.0.0 \
    VIGIL_PORT=7070 \
    VIGIL_DATABASE_URL=sqlite:/data/vigil.db
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 7070
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.VIGIL_PORT}/healthz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Any vigil command: `docker run vigil sweep --dry-run`; Kubernetes `args:` replace CMD alone.
ENTRYPOINT ["node", "bin/vigil.js"]
CMD ["serve"]

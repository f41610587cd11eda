# syntax=docker/dockerfile:1
# One cdht peer per container: `cdht node`, configured by CDHT_* variables, a mounted config
# file or flags after the image name. The build stage compiles; the runtime stage holds only
# what `npm pack` would ship (package.json's "files") and the production dependencies.

FROM node:20-slim AS build
WORKDIR /src
# Dependencies first, so a source change does not download them again. --ignore-scripts: the
# "prepare" script builds, and the sources are not here yet.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production \
    CDHT_DATA_DIR=/var/lib/cdht \
    CDHT_HTTP=0.0.0.0:9100
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/bin ./bin
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/browser ./dist/browser
COPY --from=build /src/docs ./docs
# The image's own user (uid 1000), never root; the data directory must be its to write.
RUN mkdir -p /var/lib/cdht && chown node:node /var/lib/cdht
USER node
VOLUME /var/lib/cdht
# The peer port carries TCP (joins, lookups, files) and UDP (pings) on the same number.
EXPOSE 7000/tcp 7000/udp 9100/tcp
# node's own fetch: the slim image has no curl. It asks the CDHT_HTTP port set above.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9100/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM (docker stop, a pod's deletion) is a graceful leave: node is PID 1 and takes it itself.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/cdht.js", "node"]

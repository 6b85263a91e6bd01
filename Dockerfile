# Concord in a container: built in one stage, installed from its own package in the next, so
# the image holds the built server and editor, production dependencies and nothing else.
#   docker build -t concord .
#   docker run -p 1234:1234 -v concord-data:/data concord
# Options as environment variables (CONCORD_PORT, CONCORD_STORAGE, …) or after the image name.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles where no prebuilt binary can be fetched.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY . .
RUN npm run build && mkdir /pkg && npm pack --ignore-scripts --pack-destination /pkg \
 && mkdir /app && cd /app && cp /src/deploy/package.json . \
 && npm install --omit=dev --no-audit --no-fund /pkg/concord-*.tgz

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    CONCORD_HOST=0.0.0.0 \
    CONCORD_STORAGE=sqlite:/data/concord.db
COPY --from=build /app /app
RUN mkdir /data && chown node:node /data
USER node
WORKDIR /app
VOLUME /data
EXPOSE 1234
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.CONCORD_PORT||1234)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "node_modules/concord/bin/concord.js"]

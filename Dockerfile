# Roost: build the TypeScript sources, then run the server with the shipped config as the
# unprivileged `node` user. test/ and bench/ stay out of the image (.dockerignore).
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
# `prepare` (scripts/build-if-stale.mjs) finds no src/ yet and builds nothing here.
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# `roost` on the PATH (a link to the entry file, as npm install -g makes), and a data folder the
# server's user owns. Ports above 1024, so no privilege is needed to listen.
RUN chmod 755 dist/src/cli/main.js \
  && ln -s /app/dist/src/cli/main.js /usr/local/bin/roost \
  && mkdir -p /app/data \
  && chown node:node /app/data
USER node
VOLUME /app/data
EXPOSE 1143 1993 2424
# Healthy when the IMAP listener answers with its greeting (node: the slim image has no curl).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const s=require('net').connect(1143,'127.0.0.1');s.setTimeout(4000,()=>process.exit(1));s.on('data',d=>process.exit(d.toString().startsWith('* OK')?0:1));s.on('error',()=>process.exit(1))"]
# Inside the container listen on all interfaces (-o overrides a setting).
CMD ["roost", "serve", "-c", "config/roost.conf", "-o", "listen=*"]

# Roost: build the TypeScript sources, then run the server with the shipped config.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# Data lives in a volume; inside the container listen on all interfaces (-o overrides a setting).
VOLUME /app/data
EXPOSE 1143 1993 2424
CMD ["node", "dist/src/cli/main.js", "serve", "-c", "config/roost.conf", "-o", "listen=*"]

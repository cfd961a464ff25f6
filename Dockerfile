# Warden: build with the dev dependencies, run with the production ones.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
COPY scripts ./scripts
COPY prisma ./prisma
COPY prisma.config.ts ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json codegen.yml schema.graphql ./
COPY packages ./packages
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# The client package is a workspace the server re-exports (warden/client), so it ships built.
COPY packages/client/package.json ./packages/client/
COPY scripts ./scripts
RUN npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY prisma ./prisma
USER node
EXPOSE 4000
CMD ["node", "dist/src/main.js"]

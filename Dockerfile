# larder on Node 24 LTS. Build: docker build -t larder .
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY src/ops/status-page ./src/ops/status-page
COPY package.json rules.yaml ./
# A container is reached through its published port: the image's rules listen on every
# interface (a rules file mounted over /app/rules.yaml, or LARDER_LISTEN, decides otherwise).
RUN sed -i 's/^listen: 127\.0\.0\.1:8080/listen: 0.0.0.0:8080/' rules.yaml && grep -q '^listen: 0.0.0.0:8080' rules.yaml
COPY bin ./bin
COPY scripts/demo-origin.mjs ./scripts/demo-origin.mjs
USER node
EXPOSE 8080
ENTRYPOINT ["node", "bin/larder.js"]
CMD ["--config", "/app/rules.yaml"]

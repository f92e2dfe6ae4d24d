# One image for every Alto executable; the container's command picks the service.
FROM swift:6.3-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends librabbitmq-dev libzstd-dev zlib1g-dev libpcre2-dev libsmbclient-dev pkgconf \
    node-react node-react-dom node-scheduler node-csstype node-prop-types node-typescript esbuild
WORKDIR /src
COPY . .
RUN scripts/build-ui.sh && swift build -c release --static-swift-stdlib && mkdir /out && cp .build/release/alto-* /out/ \
    && cp -r .build/release/*.resources /out/

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends librabbitmq4 libzstd1 zlib1g libpcre2-8-0 libsmbclient ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/alto --shell /usr/sbin/nologin alto \
    && mkdir -p /var/lib/alto/keys && chown -R 10001:10001 /var/lib/alto
COPY --from=build /out/ /usr/local/bin/
COPY --from=build /src/web/dist/ /usr/local/share/alto/ui/
ENV ALTO_UI_DIR=/usr/local/share/alto/ui
ENV ALTO_HTTP_HOST=0.0.0.0
# The central services run as this unprivileged user; the agent, which must read every user's files on a file
# server, is run as root where it runs in a container (docker-compose's example agent says user 0).
USER 10001

# batchd daemon image. Built with the same installer (deploy/install-deps.sh) and CMake preset
# (release) the test suite uses, so a green suite exercises these build steps.
#   docker build -t batchd .
#   docker run --rm -p 50051:50051 -v "$PWD/token:/run/secrets/batchd_token:ro" batchd
# It listens on 0.0.0.0:50051 and requires the bearer token in /run/secrets/batchd_token (a
# Docker/compose secret or a read-only bind mount); without that file it refuses to start.
# Local use, e.g. as a sidecar on a shared unix socket: see deploy/docker-compose.yml.
FROM debian:bookworm AS build
WORKDIR /src
COPY deploy/install-deps.sh deploy/install-deps.sh
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates >/dev/null \
    && BATCHD_SKIP_TOOLS=1 ./deploy/install-deps.sh
COPY . .
RUN cmake --preset release -DCMAKE_CXX_COMPILER_LAUNCHER= -DCMAKE_C_COMPILER_LAUNCHER= \
        -DBATCHD_BUILD_BENCH=OFF >/dev/null \
    && cmake --build --preset release --target batchd batchctl \
    && install -D -m 0755 build/release/server/batchd /out/usr/local/bin/batchd \
    && install -D -m 0755 build/release/client/batchctl/batchctl /out/usr/local/bin/batchctl \
    && install -D -m 0644 -t /out/usr/local/share/batchd/examples client/examples/*.json

FROM debian:bookworm-slim
# The shared libraries batchd and batchctl link, by package (their own dependencies, e.g.
# libgrpc29, libssl3, libre2-9, come with them). tests/lint/dockerfile_runtime_libs.sh checks
# this list against `ldd` of the binaries the tests built.
ARG RUNTIME_PACKAGES="libgrpc++1.51 libprotobuf32 libspdlog1.10 libfmt9 libboost-json1.81.0 libabsl20220623 libsqlite3-0"
RUN apt-get update -qq \
    && apt-get install -y -qq --no-install-recommends ${RUNTIME_PACKAGES} >/dev/null \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 batchd \
    && useradd --system --uid 10001 --gid batchd --home-dir /var/lib/batchd --create-home \
        --shell /usr/sbin/nologin batchd \
    && install -d -o batchd -g batchd -m 0750 /run/batchd \
    && install -d -o batchd -g batchd -m 0700 /var/lib/batchd/data
COPY --from=build /out/ /
USER batchd
WORKDIR /var/lib/batchd
# Configuration by BATCHD_* variables (each daemon flag --some-name is BATCHD_SOME_NAME; flags
# on the command line win). An empty BATCHD_AUTH_TOKEN_FILE turns the token off, which the
# daemon accepts only on loopback or a unix socket. BATCHD_ADDR is batchctl's (HEALTHCHECK):
# set it to unix:/run/batchd/batchd.sock too when listening there.
# The journal (accepted batches survive restarts) lives in BATCHD_DATA_DIR: mount a volume there.
# The HTTP/JSON API and the dashboard are on 8080 (the same token; no TLS: put a TLS proxy in
# front of it beyond a private network); BATCHD_HTTP_LISTEN="" turns them off, which a daemon
# without a token needs.
ENV BATCHD_LISTEN=0.0.0.0:50051 \
    BATCHD_HTTP_LISTEN=0.0.0.0:8080 \
    BATCHD_DATA_DIR=/var/lib/batchd/data \
    BATCHD_AUTH_TOKEN_FILE=/run/secrets/batchd_token \
    BATCHD_ADDR=127.0.0.1:50051
VOLUME /var/lib/batchd/data
EXPOSE 50051 8080
STOPSIGNAL SIGTERM
# Health needs no token, so the check works whatever token the daemon requires.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["batchctl", "health"]
ENTRYPOINT ["batchd"]

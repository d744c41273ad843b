# batchd daemon image. Built with the same installer and CMake preset the test suite uses.
#   docker build -t batchd .
#   docker run --rm -p 50051:50051 batchd
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
    && install -D -m 0755 build/release/client/batchctl /out/usr/local/bin/batchctl

FROM debian:bookworm-slim
# Only the shared libraries batchd and batchctl link.
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        libgrpc++1.51 libprotobuf32 libspdlog1.10 libfmt9 libboost-json1.81.0 \
        libabsl20220623 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/batchd --create-home batchd
COPY --from=build /out/ /
USER batchd
EXPOSE 50051
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
    CMD ["batchctl", "--addr=127.0.0.1:50051", "health"]
ENTRYPOINT ["batchd"]
CMD ["--listen=0.0.0.0:50051"]

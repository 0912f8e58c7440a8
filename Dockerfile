# syntax=docker/dockerfile:1
#
# rnats-server and the rnats tool in a small image, laid out like the
# official nats image: the server is the entrypoint, the default command
# reads the configuration at /etc/nats/nats-server.conf (clients on 4222,
# routes on 6222; see dist/docker/nats-server.conf).
#
#   docker build -t rnats .
#   docker run -p 4222:4222 rnats
#   docker run -v $PWD/my.conf:/etc/nats/nats-server.conf:ro -p 4222:4222 rnats
#   docker run rnats -c /etc/nats/nats-server.conf --routes=nats-route://ruser:T0pS3cr3t@other:6222
#
# Needs BuildKit (the default builder since Docker 23) for the cache mounts.

# The builder's Debian release must match the runtime image's (bookworm =
# Debian 12): the binaries link against its glibc.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target/ are cache mounts, so a rebuild after a source
# change compiles only the workspace's crates, not every dependency again.
# target/ is not kept in the image, so the binaries are copied out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rnats-server --bin rnats \
    && mkdir /out \
    && cp target/release/rnats-server target/release/rnats /out/

# glibc and libgcc, no shell or package manager; the :nonroot variant runs
# as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rnats-server /out/rnats /usr/local/bin/
COPY dist/docker/nats-server.conf /etc/nats/nats-server.conf
COPY LICENSE /usr/share/doc/rnats/LICENSE
USER nonroot:nonroot
# Clients, routes, and monitoring (nats-server's port; rnats does not serve
# monitoring yet).
EXPOSE 4222 6222 8222
# SIGTERM (docker stop) flushes every client and exits 0. For lame duck
# mode, `docker kill -s USR2` and give it time (default 2m) to drain.
ENTRYPOINT ["/usr/local/bin/rnats-server"]
CMD ["--config", "/etc/nats/nats-server.conf"]

# syntax=docker/dockerfile:1
#
# roomkeeper: one static binary (no cgo: the SQLite driver is pure Go), run
# as a non-root user on a distroless base. The same image runs every role:
#   docker run roomkeeper worker | webhooks | scheduler | serve
# roomctl is in the image too, for operators (docker exec ... roomctl).

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOOS=linux GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags='-s -w' -o /out/ ./cmd/roomkeeper ./cmd/roomctl

# A static busybox, only for the health check's wget (distroless has no
# shell or HTTP client).
FROM busybox:1.37-musl AS busybox

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/roomkeeper /out/roomctl /usr/local/bin/
COPY --from=busybox /bin/busybox /usr/local/bin/wget
# HTTP_ADDR: webhooks, /healthz, /readyz, /metrics. DATA_DIR is only used
# by `serve` on the embedded engines (no NATS_URL / MONGO_URI).
ENV HTTP_ADDR=:8080 DATA_DIR=/home/nonroot/data LOG_FORMAT=json
WORKDIR /home/nonroot
USER nonroot:nonroot
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/roomkeeper"]
CMD ["serve"]

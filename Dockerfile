# syntax=docker/dockerfile:1

# Build: a static binary (no cgo).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/longmem ./cmd/longmem \
 && mkdir -p /out/data

# Run: distroless, non-root (uid 65532), nothing but the binary.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/longmem /usr/local/bin/longmem
COPY --from=build --chown=65532:65532 /out/data /var/lib/longmem
ENV LONGMEM_DATA=/var/lib/longmem
VOLUME /var/lib/longmem
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/longmem"]
# Listening on all interfaces requires API keys: set LONGMEM_API_KEYS=key:tenant[,key:tenant…].
# Without them longmem refuses to start and says so.
CMD ["serve", "--addr", "0.0.0.0:8080"]

# tarsup in a container: `tarsup watch` keeps a Tars deployment current from
# inside Docker, next to the engine it drives through the mounted socket.
#
#   docker build -t tarsup .
#   docker run -d --name tarsup-watch --restart unless-stopped \
#     --stop-timeout 600 \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     -v /run/lock:/run/lock \
#     -v "$HOME/.docker/config.json:/root/.docker/config.json:ro" \
#     -v /etc/tarsup/token:/run/secrets/tarsup-token:ro \
#     -p 127.0.0.1:8080:8080 \
#     tarsup watch --schedule "@daily" --probe sidecar \
#       --http-addr :8080 --http-token-file /run/secrets/tarsup-token
#
# Why each part:
#   /var/run/docker.sock  the engine tarsup reads and drives (root in the engine: guard it).
#   /run/lock             the run lock, shared with `tarsup refresh` from the host's cron.
#   config.json           registry credentials (static auths only: credential helper
#                         programs are not in this image).
#   --probe sidecar       the health probes run beside each container, in its network
#                         namespace; from inside this container the Tars containers'
#                         bridge networks are not routable (or use --network host).
#   --stop-timeout 600    `docker stop` sends SIGTERM and waits: a recreate under way
#                         finishes or rolls back (up to --health-timeout + --monitor)
#                         before tarsup exits 0; SIGKILL would leave it to `tarsup recover`.
#
# The binary is static (CGO_ENABLED=0) and the image holds only it, the CA
# bundle (registries over HTTPS), zone data (compiled in, for CRON_TZ=) and
# writable /tmp and /run/lock.
ARG GO_IMAGE=golang:1.26
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tarsup ./cmd/tarsup \
 && mkdir -p /out/tmp /out/run/lock \
 && chmod 1777 /out/tmp /out/run/lock

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/ /
ENV HOME=/root TMPDIR=/tmp
EXPOSE 8080
ENTRYPOINT ["/tarsup"]
CMD ["watch", "--schedule", "@daily", "--probe", "sidecar"]

#!/usr/bin/env bash
# Make sure a Docker Engine answers before the end-to-end tests run: start
# dockerd if none does and the binary is here; fail loudly otherwise.
set -u
if docker info >/dev/null 2>&1; then
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ] && [ "${DOCKER_HOST#unix://}" = "$DOCKER_HOST" ]; then
  echo "FATAL: the Docker Engine at DOCKER_HOST=$DOCKER_HOST does not answer; the end-to-end tests need it" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1; then
  echo "FATAL: no Docker Engine answers and dockerd is not installed; the end-to-end tests (and make demo) need a real engine (apt-get install docker.io)" >&2
  exit 1
fi
echo "no Docker Engine answers: starting dockerd (log in /tmp/tarsup-dockerd.log)" >&2
nohup dockerd >/tmp/tarsup-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    echo "dockerd is up" >&2
    exit 0
  fi
  sleep 1
done
echo "FATAL: started dockerd but it does not answer after 60 s; see /tmp/tarsup-dockerd.log:" >&2
tail -n 20 /tmp/tarsup-dockerd.log >&2
exit 1

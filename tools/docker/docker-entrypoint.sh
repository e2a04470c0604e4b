#!/bin/sh
# Entry point of every app image (Dockerfile): resolves ADVERTISE_HOST=auto, then runs the app.
#
# A service registers ADVERTISE_HOST with the registry, and the registry, the gateway and other
# services then call it there. In a container with several replicas (docker-compose.yml runs
# user-service twice) no fixed name works: the service name resolves to any replica. With
# ADVERTISE_HOST=auto each container registers its own address on its network instead: the
# first IPv4 address that `hostname -i` reports, the same source the apache/kafka image uses.
# Any other value, or none, is passed on unchanged.
set -eu

if [ "${ADVERTISE_HOST:-}" = "auto" ]; then
  address=""
  for candidate in $(hostname -i 2>/dev/null || true); do
    case "$candidate" in
      127.*) ;;
      *.*.*.*) address="$candidate"; break ;;
    esac
  done
  if [ -z "$address" ]; then
    echo "ADVERTISE_HOST=auto: no IPv4 address for this container (hostname -i printed: $(hostname -i 2>&1 || true)); set ADVERTISE_HOST explicitly" >&2
    exit 64
  fi
  ADVERTISE_HOST="$address"
  export ADVERTISE_HOST
fi

exec "$@"

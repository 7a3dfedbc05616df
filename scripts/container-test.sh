#!/usr/bin/env bash
# The container tier: build the CPU image (docker/Dockerfile.cpu) with podman, run it, and
# check that it becomes ready, answers a grounding request through the SDK, and exits 0
# within its drain timeout on SIGTERM.
#
#   scripts/container-test.sh          # make test-container (after make setup)
#   REBUILD_BASE=1 scripts/container-test.sh
#
# Follows docs/containers.md in /work/shared: podman with runc (crun fails on these
# machines' cgroups), a Debian base made with debootstrap (no registry can be reached),
# the machine's CA bundle as the optional `pipca` build secret, and the CPU torch wheel
# that this machine's pip finds on disk passed in through docker/wheels/. Needs root.
# The first run takes minutes (the base, then pip inside the build); later runs reuse
# podman's layer cache. Every step is bounded by `timeout`; timings are printed.
# shellcheck source=scripts/_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/_common.sh"  # set -euo pipefail, ROOT (cwd), step
IMAGE="${IMAGE:-localhost/locvlm:cpu-test}"
BASE_IMAGE="${BASE_IMAGE:-localhost/debian:bookworm}"
NAME="${NAME:-locvlm-container-test}"
RUNC="${RUNC:-/usr/sbin/runc}"
CA_CERT="${CA_CERT:-/etc/ssl/certs/ca-certificates.crt}"
TORCH_VERSION="2.13.0"  # as in the Makefile and docker/Dockerfile.cpu
DRAIN_S="${DRAIN_S:-30}"  # LOCVLM_DRAIN_TIMEOUT_S in the container
READY_TIMEOUT_S="${READY_TIMEOUT_S:-300}"
BUILD_TIMEOUT_S="${BUILD_TIMEOUT_S:-2400}"
PY="$ROOT/.venv/bin/python"  # the host's venv: the SDK (client/) and Pillow
API_KEY="container-test-key"
STATE="${XDG_CACHE_HOME:-$HOME/.cache}/locvlm-container-test"

TIMES=()
timed() {  # timed LABEL COMMAND...: run, and remember how long it took
    local label="$1" t0=$SECONDS
    shift
    "$@"
    TIMES+=("$label: $((SECONDS - t0))s")
}
fail() { echo "[container-test] FAIL: $*" >&2; exit 1; }

[[ "$(id -u)" == "0" ]] || fail "needs root (rootful podman, apt-get, debootstrap)"
[[ -x "$PY" ]] || fail "no $PY: run make setup first (the SDK check uses it)"

# --- tools and podman's settings -----------------------------------------------------
if ! command -v podman >/dev/null || [[ ! -x "$RUNC" ]] || ! command -v debootstrap >/dev/null \
        || ! command -v curl >/dev/null; then
    step "installing podman, runc, debootstrap and curl (Debian's packages)"
    export DEBIAN_FRONTEND=noninteractive
    timeout 600 apt-get update -q
    timeout 900 apt-get install -y -q podman runc debootstrap curl
fi
# Our own containers.conf, through CONTAINERS_CONF: the machine's is left alone. runc for
# every podman call (exec, stop, healthcheck too), not only those given --runtime.
mkdir -p "$STATE"
printf '[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = "cgroupfs"\nruntime = "%s"\n' \
    "$RUNC" > "$STATE/containers.conf"
export CONTAINERS_CONF="$STATE/containers.conf"
step "$(podman --version), runtime $RUNC"

# --- the base image: Debian bookworm from debootstrap, made once ----------------------
make_base() {
    local rootfs
    rootfs="$(mktemp -d)"
    timeout 1200 debootstrap --variant=minbase bookworm "$rootfs"
    tar -C "$rootfs" -c . | timeout 600 podman import - "$BASE_IMAGE"
    rm -rf "$rootfs"
}
if [[ "${REBUILD_BASE:-0}" == "1" ]] || ! podman image exists "$BASE_IMAGE"; then
    step "making $BASE_IMAGE with debootstrap (minbase bookworm)"
    timed "base image" make_base
else
    step "$BASE_IMAGE already there"
fi

# --- the CPU torch wheel, from where this machine's pip finds it ----------------------
find_links="${TORCH_WHEEL_DIR:-${PIP_FIND_LINKS:-$("$PY" -m pip config get global.find-links 2>/dev/null || true)}}"
wheel=""
for dir in $find_links; do
    [[ -d "$dir" ]] || continue
    wheel="$(find "$dir" -maxdepth 1 -name "torch-${TORCH_VERSION}*-cp311-*.whl" | sort | head -1)"
    [[ -n "$wheel" ]] && break
done
find docker/wheels -maxdepth 1 -name 'torch-*.whl' ! -name "$(basename "${wheel:-none}")" -delete
build_args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "TORCH_VERSION=$TORCH_VERSION")
if [[ -n "$wheel" ]]; then
    # A hard link when on the same filesystem: no 190 MB copy.
    [[ -f "docker/wheels/$(basename "$wheel")" ]] || cp -l "$wheel" docker/wheels/ 2>/dev/null \
        || cp "$wheel" docker/wheels/
    build_args+=(--build-arg "TORCH_INDEX_URL=")  # the wheel only, no index
    step "torch wheel: $wheel"
else
    step "no local torch $TORCH_VERSION wheel: the build takes it from the CPU index"
fi
secret=()
[[ -f "$CA_CERT" ]] && secret=(--secret "id=pipca,src=$CA_CERT")

# --- build -------------------------------------------------------------------------
# --format docker: OCI images drop HEALTHCHECK, which this test runs below.
step "building $IMAGE (docker/Dockerfile.cpu)"
timed "build" timeout "$BUILD_TIMEOUT_S" podman --runtime "$RUNC" build --format docker \
    --network=host "${secret[@]}" "${build_args[@]}" \
    --ignorefile docker/Dockerfile.cpu.dockerignore \
    -t "$IMAGE" -f docker/Dockerfile.cpu .
step "image size: $(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

# --- run ---------------------------------------------------------------------------
cleanup() {
    local rc=$?
    if [[ $rc != 0 ]] && podman container exists "$NAME"; then
        echo "--- container log (last 40 lines) ---" >&2
        podman logs --tail 40 "$NAME" >&2 || true
    fi
    podman rm -f "$NAME" >/dev/null 2>&1 || true
    # Each build leaves its stages and the image it re-tagged away untagged (~2 GB a
    # run); 89 of them once filled this machine's disk and failed the build.
    podman image prune -f >/dev/null 2>&1 || true
    exit $rc
}
trap cleanup EXIT
podman rm -f "$NAME" >/dev/null 2>&1 || true  # a container left by an interrupted run
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
URL="http://127.0.0.1:$PORT"
step "starting $NAME on $URL"
# --health-interval=disable: no systemd timer for the HEALTHCHECK (there is no systemd
# here); `podman healthcheck run` below still runs it once.
timeout 120 podman --runtime "$RUNC" run -d --name "$NAME" -p "127.0.0.1:$PORT:8000" \
    --health-interval=disable \
    -e "LOCVLM_API_KEYS=$API_KEY" -e "LOCVLM_DRAIN_TIMEOUT_S=$DRAIN_S" "$IMAGE" >/dev/null

wait_ready() {
    local deadline=$((SECONDS + READY_TIMEOUT_S)) code
    while (( SECONDS < deadline )); do
        [[ "$(podman inspect -f '{{.State.Running}}' "$NAME")" == "true" ]] \
            || fail "the container exited before it was ready"
        code="$(curl -s -o /dev/null -m 3 -w '%{http_code}' "$URL/readyz" || true)"
        [[ "$code" == "200" ]] && return 0
        sleep 1
    done
    fail "not ready within ${READY_TIMEOUT_S}s (last /readyz status: ${code:-none})"
}
timed "start to ready" wait_ready
step "ready: $(curl -s -m 3 "$URL/readyz")"

# --- checks ------------------------------------------------------------------------
uid="$(timeout 30 podman exec "$NAME" id -u)"
[[ "$uid" == "10001" ]] || fail "the server runs as uid $uid, not the image's user 10001"
echo "  runs as uid $uid (non-root)"
timeout 60 podman healthcheck run "$NAME" >/dev/null || fail "the image's HEALTHCHECK failed"
echo "  HEALTHCHECK: healthy"
code="$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$URL/v1/ground" \
    -H 'content-type: application/json' -d '{}')"
[[ "$code" == "401" ]] || fail "/v1/ground without a key answered $code, not 401"
echo "  /v1 without an API key: 401"
timed "ground request" timeout 180 "$PY" tests/container/ground_check.py \
    --base-url "$URL" --api-key "$API_KEY" --image docs/examples/scene.png
# Read whole, then searched: `curl | grep -q` can fail under pipefail when grep exits first.
metrics="$(curl -s -m 10 "$URL/metrics")"
grep -q '^locvlm_requests_in_flight ' <<<"$metrics" \
    || fail "/metrics lacks locvlm_requests_in_flight (the HPA's metric)"
echo "  /metrics: locvlm_requests_in_flight exported"

# --- SIGTERM: drain, exit 0, within the drain timeout --------------------------------
step "podman stop -t $((DRAIN_S + 10)) (SIGTERM, SIGKILL after $((DRAIN_S + 10))s)"
t0=$SECONDS
timeout $((DRAIN_S + 40)) podman stop -t $((DRAIN_S + 10)) "$NAME" >/dev/null
stop_s=$((SECONDS - t0))
TIMES+=("stop: ${stop_s}s")
exit_code="$(podman inspect -f '{{.State.ExitCode}}' "$NAME")"
[[ "$exit_code" == "0" ]] || fail "exit code $exit_code after SIGTERM (137: SIGKILLed)"
(( stop_s <= DRAIN_S )) || fail "stopping took ${stop_s}s, more than the ${DRAIN_S}s drain"
logs="$(podman logs "$NAME" 2>&1)"
grep -q "SIGTERM: draining" <<<"$logs" || fail "no drain in the server's log"
echo "  exited 0 in ${stop_s}s after SIGTERM, drained"

step "container tier passed: ${TIMES[*]/%/;}"

#!/usr/bin/env bash
# `make run`: the AWS emulator (moto server) on loopback, the resources template.yaml
# declares created in it, and the local gateway serving every HTTP function on
# 127.0.0.1:$PORT and polling every queue. Ctrl-C stops everything it started.
#
# STACK_DIR (default .run) holds the lock, the logs and the stack file, so the tests can
# start stacks of their own beside a running `make run`.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-3000}"
STACK_DIR="${STACK_DIR:-.run}"
mkdir -p "$STACK_DIR"
STACK_DIR="$(cd "$STACK_DIR" && pwd)"

exec 9>"$STACK_DIR/lock"
if ! flock -n 9; then
  echo "make run: already running (lock $STACK_DIR/lock is held). Stop that one with Ctrl-C, or use another STACK_DIR and PORT." >&2
  exit 1
fi
if .venv/bin/python -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', int(sys.argv[1]))) != 0)" "$PORT"; then
  echo "make run: 127.0.0.1:$PORT is already in use (another 'make run'?). Set PORT to use another port." >&2
  exit 1
fi

# The whole workspace, as `make test` builds it: the same feature set, so no rebuild.
[ -n "${LOCAL_GATEWAY_BIN:-}" ] || cargo build --quiet --workspace --bins

free_port() { .venv/bin/python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

if [ -z "${AWS_ENDPOINT_URL:-}" ]; then
  moto_port="${MOTO_PORT:-$(free_port)}"
  # The emulator issues a requested ACM certificate this many seconds after the request
  # (ACM does once the validation record is in DNS).
  export MOTO_ACM_VALIDATION_WAIT="${MOTO_ACM_VALIDATION_WAIT:-10}"
  # Without the lock's descriptor: only this script holds the lock.
  .venv/bin/python infra/emulator.py -H 127.0.0.1 -p "$moto_port" >"$STACK_DIR/moto.log" 2>&1 9>&- &
  pids+=($!)
  export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
  # Until it answers (seconds; longer on a loaded machine), or it has ended.
  .venv/bin/python - "$AWS_ENDPOINT_URL" "${pids[-1]}" <<'PY' || { echo "make run: the AWS emulator did not start; its log:" >&2; tail -n 30 "$STACK_DIR/moto.log" >&2; exit 1; }
import os, sys, time, urllib.request
url, pid = sys.argv[1] + "/moto-api/", int(sys.argv[2])
deadline = time.monotonic() + 90
while time.monotonic() < deadline:
    try:
        urllib.request.urlopen(url, timeout=2)
        sys.exit(0)
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(1)
        time.sleep(0.1)
sys.exit(1)
PY
fi
echo "AWS emulator at $AWS_ENDPOINT_URL"
# Links in e-mails open the settings pages of this stack (template parameter AppUrl).
export APP_URL="${APP_URL:-http://127.0.0.1:$PORT}"

(cd infra && ../.venv/bin/python bootstrap.py --template ../template.yaml --endpoint "$AWS_ENDPOINT_URL" --out "$STACK_DIR/stack.json")

gateway="${LOCAL_GATEWAY_BIN:-target/debug/local-gateway}"
# LOCAL_HTTP_COOKIES: the settings pages' session cookie may go without Secure to a
# loopback host, as the local stack serves plain http there.
PORT="$PORT" LOCAL_STACK_FILE="$STACK_DIR/stack.json" EXPOSE_DYNAMODB_CALLS="${EXPOSE_DYNAMODB_CALLS:-1}" \
  LOCAL_HTTP_COOKIES="${LOCAL_HTTP_COOKIES:-1}" \
  WEBHOOK_ALLOW_PRIVATE_TARGETS="${WEBHOOK_ALLOW_PRIVATE_TARGETS:-}" "$gateway" 9>&- &
pids+=($!)
wait "${pids[-1]}"

# Sourced by the scripts in this folder: strict mode, the repository root as the working
# directory (ROOT), and `step MESSAGE`, which prints the message with the script's name
# and the seconds since it started.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
START=$SECONDS
step() { echo "[$(basename "$0" .sh) +$((SECONDS - START))s] $*"; }

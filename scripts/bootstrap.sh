# Sourced by the other scripts: find or install uv, then install the locked environment.
# Needs only Python 3.11+ on PATH; everything else comes from PyPI through the committed uv.lock.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"
cd "$ROOT"

find_python() {
  for candidate in python3.13 python3.12 python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  echo "error: Python 3.11 or newer is needed on PATH" >&2
  return 1
}

# Machines behind a TLS-inspecting proxy ship its CA in the system bundle; uv reads
# SSL_CERT_FILE (pip already uses the system configuration).
if [ -z "${SSL_CERT_FILE:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
fi

if command -v uv >/dev/null 2>&1; then
  UV="$(command -v uv)"
elif [ -x "$ROOT/.tools/uv/bin/uv" ]; then
  UV="$ROOT/.tools/uv/bin/uv"
else
  PYTHON="$(find_python)"
  echo "installing uv $UV_VERSION into .tools/uv" >&2
  "$PYTHON" -m venv "$ROOT/.tools/uv"
  "$ROOT/.tools/uv/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  UV="$ROOT/.tools/uv/bin/uv"
fi
export UV

# The interpreter is chosen for the sync only: `uv run` then uses the environment as it is
# (exported, uv would compare each run's interpreter path with it and warn on every command).
SYNC_PYTHON="${UV_PYTHON:-$(find_python)}"
# The environment is synced only when the lock or the project changed since the last sync
# (recorded in .venv): a sync that changes nothing still walks every installed file, and
# compiling bytecode again on each start took ~40 s. Bytecode is compiled once at install: with
# PYTHONDONTWRITEBYTECODE set (common in containers), every process would otherwise recompile
# its imports on each start (seconds per CLI call).
stamp="$ROOT/.venv/.empulse-synced"
wanted="$(cat "$ROOT/uv.lock" "$ROOT/pyproject.toml" | cksum) $SYNC_PYTHON"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "installing the locked dependencies into .venv (first run: about a minute)" >&2
  "$UV" sync --frozen --quiet --compile-bytecode --python "$SYNC_PYTHON"
  printf '%s' "$wanted" >"$stamp"
fi

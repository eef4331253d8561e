#!/usr/bin/env bash
# What `make up` and `make test` need on a machine that has only the image's toolchain, installed once
# and checked in well under a second afterwards. The one place for it: the Makefile runs it before any
# target that needs it, and .ci/run only calls `make test`.
#
#   tools/bootstrap.sh uv      uv, pinned, in .cache/tools (or $PARTNERAPP_CACHE_DIR/tools; never the system's Python)
#   tools/bootstrap.sh up      + Java 17, Maven (the Kafka broker), Go (FerretDB), Node.js/npm (the web app),
#                              the fonts of the PDFs (Debian packages in tools/pdf-font-packages.txt),
#                              Debian's PostgreSQL server (FerretDB's backend; not with PARTNERAPP_STORE_BACKEND=sqlite)
#   tools/bootstrap.sh test    + Debian's chromium (the browser tests)
#
# Prints the path of the uv it provides on its last line. Missing Debian packages are installed with
# apt-get when running as root (or with sudo when that works without a password); otherwise it names them.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION="0.13.9"
TOOLS="${PARTNERAPP_CACHE_DIR:-.cache}/tools/uv-${UV_VERSION}"
need="${1:-uv}"

say() { echo "[bootstrap] $*" >&2; }

missing=()
apt_need() {  # command, Debian package
  command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}
apt_package_need() {  # Debian package: a package has no command to look for
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]] || missing+=("$1")
}
postgres_need() {  # Debian's server, the `postgresql` package or one of its versions (postgresql-15, ...)
  dpkg-query -W -f='${Status}\n' postgresql 'postgresql-[0-9]*' 2>/dev/null | grep -qx "install ok installed" ||
    missing+=(postgresql)
}
if [[ "$need" == "up" || "$need" == "test" ]]; then
  apt_need java openjdk-17-jre-headless
  apt_need mvn maven
  while read -r package; do
    [[ -z "$package" ]] || apt_package_need "$package"
  done <tools/pdf-font-packages.txt
  if [[ "${PARTNERAPP_STORE_BACKEND:-postgresql}" == "postgresql" ]]; then
    postgres_need  # the stack runs a server of its own from them (on port 55432, never the package's cluster)
  fi
fi
if [[ "$need" == "test" ]]; then
  apt_need chromium chromium
fi
if ((${#missing[@]})); then
  if [[ "$(id -u)" == "0" ]]; then
    sudo_=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_=(sudo -n)
  else
    say "missing Debian packages: ${missing[*]} (install them: apt-get install ${missing[*]})"
    exit 1
  fi
  say "installing ${missing[*]}"
  "${sudo_[@]}" apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi

required() {  # command, what it is for
  command -v "$1" >/dev/null 2>&1 || { say "$1 is required ($2); the machine image provides it"; exit 1; }
}
required python3.11 "CPython 3.11 runs every service"
if [[ "$need" == "up" || "$need" == "test" ]]; then
  required go "FerretDB is built from source"
  required npm "Node.js 20 and npm build the web app"
fi

# uv from PyPI, pinned, in a virtual environment of its own: no PATH change, no write to the system's Python.
uv="$TOOLS/bin/uv"
if ! [[ -x "$uv" ]] || [[ "$("$uv" --version 2>/dev/null)" != "uv ${UV_VERSION}"* ]]; then
  say "installing uv ${UV_VERSION} into ${TOOLS}"
  rm -rf "$TOOLS"
  python3.11 -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==${UV_VERSION}" >&2
fi
echo "$uv"

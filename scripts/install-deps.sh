#!/usr/bin/env bash
# Installs the outside programs kpki's tests use, when missing: openssl, etcd, etcdctl, cfssl
# (Debian golang-cfssl), kubectl, wrk, valgrind (the release layout check); schemathesis and pkilint from PyPI. Idempotent.
set -euo pipefail
need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
command -v cfssl >/dev/null || need_apt+=(golang-cfssl)
command -v kubectl >/dev/null || need_apt+=(kubernetes-client)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v bc >/dev/null || need_apt+=(bc)
command -v jq >/dev/null || need_apt+=(jq)
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
command -v curl >/dev/null || need_apt+=(curl)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v nm >/dev/null || need_apt+=(binutils)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "install-deps: please install: ${need_apt[*]}" >&2
  fi
fi
need_pip=()
command -v schemathesis >/dev/null || need_pip+=(schemathesis)
command -v lint_pkix_cert >/dev/null || need_pip+=(pkilint)
if [ ${#need_pip[@]} -gt 0 ]; then
  python3 -m pip install -q "${need_pip[@]}"
fi

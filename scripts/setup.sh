#!/usr/bin/env bash
# Installs what Weft needs on Debian 12 (run as root): the eBPF toolchain,
# the tools the lab uses inside its namespaces, chromium (the report's browser
# test), the npm dependencies and the compiled dist/; it checks for Node.js 20
# or later (Debian's own is too old, so the machine must bring it) and mounts
# bpffs. Safe to run again: every step checks before it acts.
set -euo pipefail

cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "setup.sh: run as root (it installs packages and mounts bpffs)" >&2
  exit 2
fi

PACKAGES=(
  clang llvm libbpf-dev bpftool xdp-tools
  nftables iproute2 tcpdump iputils-ping procps make ethtool
  openssh-server snmpd lldpd
  chromium
  libyang2-tools
)

# The P4 consortium's p4c and bmv2 (simple_switch_grpc) that the P4 tests and
# the lab run when ../shared/p4tools (or $WEFT_P4TOOLS) holds them: their
# shared libraries, and cpp for p4c's preprocessor.
P4TOOLS_PACKAGES=(
  cpp
  libabsl20220623 libboost-iostreams1.74.0 libboost-program-options1.74.0
  libc-ares2 libgc1 libgcrypt20 libgmp10 libgrpc++1.51 libgrpc29 libjsoncpp25
  liblz4-1 libpcap0.8 libprotobuf32 libre2-9 libssl3 libstdc++6 libsystemd0
  libxxhash0 libzstd1
)
if [ -d "${WEFT_P4TOOLS:-../shared/p4tools}" ]; then
  PACKAGES+=("${P4TOOLS_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Debian 12 ships Node.js 18; Weft needs 20 or later, which the machine must bring.
if [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
  echo "setup.sh: Node.js 20 or later is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

# Pinned maps and programs live in bpffs.
if ! mountpoint -q /sys/fs/bpf; then
  mount -t bpf bpf /sys/fs/bpf
fi

# npm ci builds dist/ too (the `prepare` script); otherwise rebuild when a source is newer.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
elif [ ! -f dist/orchestrator/cli/main.js ] || [ -n "$(find orchestrator inventory targets lab -newer dist/orchestrator/cli/main.js -name '*.ts' -print -quit)" ]; then
  npm run build
fi

echo "setup.sh: done (node $(node --version), clang $(clang --version | head -1 | sed 's/.*version //'))"

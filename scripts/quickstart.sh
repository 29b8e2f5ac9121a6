#!/usr/bin/env bash
# The README's first command: installs everything, then runs the main job on
# examples/ — validate, compile, verify, and a lab run (deploy, apply, probe,
# destroy) — printing how long each step took. The lab is destroyed even when
# a step fails.
set -euo pipefail

cd "$(dirname "$0")/.."

TOPOLOGY=lab/topologies/example.clab.yml
POLICY=examples/policy.yaml
FABRIC=examples/fabric.yaml
OUT=out/example

step() {
  local name=$1
  shift
  local start=$EPOCHREALTIME
  echo "== $name: $*"
  "$@"
  awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "== %s: %.1f s\n\n", n, b - a }'
}

weft() { node bin/weft.js "$@"; }

step setup ./scripts/setup.sh
step validate weft validate --policy "$POLICY" --inventory "$FABRIC"
step compile weft compile --policy "$POLICY" --inventory "$FABRIC" --out "$OUT"
step verify weft verify --bundle "$OUT" --packets 5000

cleanup() { weft lab destroy -t "$TOPOLOGY" >/dev/null 2>&1 || true; }
trap cleanup EXIT
step lab-deploy weft lab deploy -t "$TOPOLOGY"
step lab-apply weft lab apply -t "$TOPOLOGY" --policy "$POLICY"
step lab-probe weft lab probe -t "$TOPOLOGY" --policy "$POLICY"
step lab-destroy weft lab destroy -t "$TOPOLOGY"
trap - EXIT
echo "quickstart: done"

#!/usr/bin/env bash
# Runs `switchboard-bench relay` with as many file descriptors as the hard limit allows: 5,000 calls are 10,000 RTP
# sockets in the switch and 20,000 in rtpengine (it opens an RTCP socket beside each RTP one).
# Usage: bench/relay-bench.sh [relay options], e.g. --calls 1000,2000,3000,4000,5000 --rounds 3
set -euo pipefail
cd "$(dirname "$0")/.."
ulimit -n "$(ulimit -Hn)"
command -v rtpengine >/dev/null || echo "rtpengine not installed (apt-get install rtpengine-daemon): the switch is measured alone" >&2
dotnet build bench/Switchboard.Bench -c Release -v q -nologo >/dev/null
exec dotnet bench/Switchboard.Bench/bin/Release/net10.0/switchboard-bench.dll relay "$@"

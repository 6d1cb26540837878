#!/usr/bin/env bash
# Runs every test of the solution. Installs the real SIP software the end-to-end and conformance tests drive
# (Debian: baresip-core, linphone-cli, sip-tester, kamailio, and iproute2/iptables for the network topology) when it is missing and we are root; restores NuGet packages.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v baresip >/dev/null 2>&1 || need+=(baresip-core)
command -v linphone-daemon >/dev/null 2>&1 || need+=(linphone-cli)
command -v sipp >/dev/null 2>&1 || need+=(sip-tester)
command -v kamailio >/dev/null 2>&1 || need+=(kamailio)
# The dashboard tests drive Debian's chromium through Playwright (ExecutablePath /usr/bin/chromium, no browser download).
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The network topology tests build namespaces, veth pairs and a NAT router (tests/Switchboard.Testing/Topology).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "warning: ${need[*]} missing and not root; tests that drive them will fail" >&2
  fi
fi

# The Asterisk connector's live tests drive a real Asterisk 22.10.1 (not in Debian): installed from the build kept in
# ../shared/asterisk beside the checkout; without that folder those tests report themselves skipped and why.
if [ -x ../shared/asterisk/asterisk.sh ] && [ ! -x /opt/asterisk/sbin/asterisk ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Asterisk 22.10.1 from ../shared/asterisk"
    ../shared/asterisk/asterisk.sh install >/dev/null
  else
    echo "warning: /opt/asterisk missing and not root; the live Asterisk tests will be skipped" >&2
  fi
fi

dotnet restore Switchboard.slnx --verbosity quiet
log=$(mktemp)
set +e
dotnet test Switchboard.slnx --no-restore -c Release 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
# One closing line for all test assemblies together.
awk '/^(Passed|Failed)!/ { for (i = 1; i <= NF; i++) { if ($i == "Failed:") f += $(i+1); if ($i == "Passed:") p += $(i+1); if ($i == "Skipped:") s += $(i+1) } }
     END { gsub(",", "", f); printf "%d passed, %d failed, %d skipped\n", p, f, s }' "$log"
rm -f "$log"
exit "$status"

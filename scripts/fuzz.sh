#!/usr/bin/env bash
# Coverage-guided fuzzing of one parser with AFL++ and SharpFuzz (not part of CI).
#   scripts/fuzz.sh <sip|command|http|httpstream|ini|ami|sdp> [seconds=300]
# Installs afl++ (Debian) and the SharpFuzz instrumenter (dotnet tool) when missing, publishes bench/Switchboard.Fuzz,
# instruments the Switchboard assemblies, runs afl-fuzz for the given time and replays every crash it saved, so the
# exception and its stack are printed. Work files: $FUZZ_DIR (default /tmp/switchboard-fuzz); a later run of the same
# target resumes from the queue the previous one left.
set -euo pipefail
cd "$(dirname "$0")/.."

target=${1:?usage: scripts/fuzz.sh <sip|command|http|httpstream|ini|ami|sdp> [seconds]}
seconds=${2:-300}
case "$target" in sip|command|http|httpstream|ini|ami|sdp) ;; *) echo "unknown target '$target'" >&2; exit 2 ;; esac
work=${FUZZ_DIR:-/tmp/switchboard-fuzz}
tools="$work/tools"
bin="$work/bin"
plain="$work/plain"
mkdir -p "$work"

if ! command -v afl-fuzz >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "afl-fuzz missing (apt-get install afl++)" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends afl++ >/dev/null
fi
if [ ! -x "$tools/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$tools" >/dev/null
fi

# Instrumentation rewrites the assemblies in place, so every run starts from a fresh publish; crashes are replayed
# on an uninstrumented copy (instrumented code writes to AFL's shared memory, which only exists under afl-fuzz).
rm -rf "$bin" "$plain"
dotnet publish bench/Switchboard.Fuzz -c Release -o "$plain" --verbosity quiet >/dev/null
cp -r "$plain" "$bin"
for dll in "$bin"/Switchboard.*.dll; do
  case "$(basename "$dll")" in Switchboard.Fuzz.dll) continue ;; esac
  "$tools/sharpfuzz" "$dll" >/dev/null
done

out="$work/$target"
if [ -d "$out/default/queue" ]; then
  input=-   # resume
else
  input="$work/$target-seeds"
  rm -rf "$input"
  dotnet "$plain/Switchboard.Fuzz.dll" seeds "$target" "$input"
fi

export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1
export DOTNET_TieredPGO=0 DOTNET_TC_QuickJitForLoops=1
afl-fuzz -V "$seconds" -t 10000 -m none -i "$input" -o "$out" -- dotnet "$bin/Switchboard.Fuzz.dll" "$target" >"$work/$target.log" 2>&1 || {
  echo "afl-fuzz failed; see $work/$target.log" >&2
  tail -20 "$work/$target.log" >&2
  exit 1
}

stats="$out/default/fuzzer_stats"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|saved_crashes|saved_hangs|bitmap_cvg)' "$stats"
shopt -s nullglob
crashes=("$out"/default/crashes/id:*)
for c in "${crashes[@]}"; do
  echo "--- crash $c"
  dotnet "$plain/Switchboard.Fuzz.dll" run "$target" "$c" 2>&1 | head -8 || true
done
[ ${#crashes[@]} -eq 0 ] && echo "no crashes"
exit 0

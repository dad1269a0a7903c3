#!/usr/bin/env bash
# Recording overhead (issue 18), one hyperfine run: a C build (make + gcc, 24 files) unrecorded,
# under `strace -f -qq -o /dev/null`, under `enforce record` (all tiers learned), and the replay
# under the learned profile (`enforce run --profile`). Also the number of system calls the
# build makes, and how long the recorder's supervisor spends per call. Writes the results
# into docs/performance.md.
# Usage (root or not): benches/record.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=10
[ "${1:-}" = "--runs" ] && runs=$2

need=()
for pkg_cmd in hyperfine:hyperfine strace:strace make:make gcc:gcc; do
  command -v "${pkg_cmd##*:}" >/dev/null 2>&1 || need+=("${pkg_cmd%%:*}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
bin=$(./scripts/build-release)
enforce=$bin/enforce

w=$(mktemp -d /tmp/palisade-record.XXXXXX)
trap 'rm -rf "$w"' EXIT
src=$w/src
mkdir -p "$src" "$w/tmp"
export TMPDIR=$w/tmp
for i in $(seq 1 24); do
  printf '#include <stdio.h>\n#include <string.h>\nint f%d(const char *s) { char b[64]; snprintf(b, sizeof b, "%%s%d", s); return (int)strlen(b); }\n' "$i" "$i" > "$src/f$i.c"
done
{
  printf '#include <stdio.h>\n'
  for i in $(seq 1 24); do printf 'int f%d(const char *);\n' "$i"; done
  printf 'int main(void) { int n = 0;\n'
  for i in $(seq 1 24); do printf 'n += f%d("x");\n' "$i"; done
  printf 'printf("%%d\\n", n); return 0; }\n'
} > "$src/main.c"
objs=$(for i in $(seq 1 24); do printf 'f%d.o ' "$i"; done)
printf 'prog: main.o %s\n\tgcc -o prog main.o %s\n%%.o: %%.c\n\tgcc -O1 -c $<\nclean:\n\trm -f prog *.o\n' "$objs" "$objs" > "$src/Makefile"
cd "$src"

"$enforce" record -o "$w/learned.yaml" -- make -s >/dev/null
make -s clean
calls=$(strace -f -c -o "$w/counts" make -s >/dev/null; awk '/total/ {print $4}' "$w/counts")
make -s clean

sync
sleep 5
hyperfine --warmup 2 --runs "$runs" --prepare 'make -s clean' --export-markdown "$w/record.md" --style basic \
  -n "make (unrecorded)" "make -s" \
  -n "strace -f -qq -o /dev/null make" "strace -f -qq -o /dev/null make -s" \
  -n "enforce record -o learned.yaml -- make" "$enforce record -o $w/again.yaml -- make -s" \
  -n "enforce run --profile learned.yaml -- make" "$enforce run --profile $w/learned.yaml -- make -s" \
  >/dev/null

# Each command once in turn, in rounds (this machine drifts between hyperfine's blocks).
python3 - "$runs" "$enforce" "$w" > "$w/interleaved.md" <<'PY'
import statistics, subprocess, sys, time
runs, enforce, w = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmds = [
    ("make (unrecorded)", ["make", "-s"]),
    ("strace -f -qq -o /dev/null make", ["strace", "-f", "-qq", "-o", "/dev/null", "make", "-s"]),
    ("enforce record -- make", [enforce, "record", "-o", f"{w}/again.yaml", "--", "make", "-s"]),
]
times = {n: [] for n, _ in cmds}
for _ in range(runs):
    for n, a in cmds:
        subprocess.run(["make", "-s", "clean"], check=True)
        t = time.perf_counter()
        subprocess.run(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[n].append((time.perf_counter() - t) * 1e3)
base = statistics.median(times["make (unrecorded)"])
st = statistics.median(times["strace -f -qq -o /dev/null make"])
print("| Command (interleaved) | Median [ms] | vs unrecorded | vs strace |")
print("|:---|---:|---:|---:|")
for n, _ in cmds:
    m = statistics.median(times[n])
    print(f"| `{n}` | {m:.0f} | {m / base:.2f} | {m / st:.2f} |")
PY

{
  echo "Measured by \`benches/record.sh\` ($runs runs each) on Linux $(uname -r), $(nproc) CPUs, as $(id -un):"
  echo "a make + gcc build of 25 C files ($calls system calls, counted by \`strace -f -c\`)."
  echo
  cat "$w/record.md"
  echo
  echo "The first three again, interleaved ($runs rounds, each running every command once in turn):"
  echo
  cat "$w/interleaved.md"
} > "$w/section.md"
cat "$w/section.md"
cd - >/dev/null
python3 - "$w/section.md" <<'PY'
import sys
doc = open("docs/performance.md").read()
b, e = "<!-- bench:record:begin -->", "<!-- bench:record:end -->"
new = open(sys.argv[1]).read()
i, j = doc.index(b), doc.index(e)
open("docs/performance.md", "w").write(doc[: i + len(b)] + "\n" + new + doc[j:])
PY
echo "updated docs/performance.md"

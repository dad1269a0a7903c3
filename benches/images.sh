#!/usr/bin/env bash
# Image benchmark (issue 19; root; starts a private dockerd: Debian's docker.io). One busybox
# image (`docker import` of a busybox-static tree, `docker save`d), `/bin/true` in it:
# - first run: `enforce run --image saved.tar` into an empty store (check, unpack, run)
#   against `docker load -i saved.tar && docker run` with the image removed before each run;
# - second run (nothing to unpack): `enforce run --image NAME` against `docker run` and against
#   `enforce run --rootfs` of the same unpacked tree (the target: within 1.2x of --rootfs).
# Hyperfine for each group, then the two second runs of enforce again interleaved (this
# machine drifts between hyperfine's blocks).
# Writes the results into docs/performance.md.
# Usage (root): benches/images.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=30
[ "${1:-}" = "--runs" ] && runs=$2

need=()
for pkg_cmd in hyperfine:hyperfine busybox-static:busybox docker.io:dockerd; do
  command -v "${pkg_cmd##*:}" >/dev/null 2>&1 || need+=("${pkg_cmd%%:*}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
bin=$(./scripts/build-release)
enforce=$bin/enforce

w=$(mktemp -d /tmp/palisade-img-bench.XXXXXX)
chmod 755 "$w"
d=$w/docker
cleanup() {
  if [ -e "$d/pid" ]; then
    kill "$(cat "$d/pid")" 2>/dev/null || true
    while [ -e "$d/pid" ]; do sleep 0.1; done
  fi
  { grep " $d" /proc/self/mountinfo || true; } | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l
  rm -rf "$w"
}
trap cleanup EXIT

root=$w/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp"
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true echo; do ln -s busybox "$root/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$root/etc/passwd"

mkdir -p "$d"
dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$d/data" --exec-root "$d/exec" \
  --pidfile "$d/pid" -H "unix://$d/sock" > "$d/log" 2>&1 &
export DOCKER_HOST=unix://$d/sock
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
tar -C "$root" -c . | docker import --change 'CMD ["/bin/true"]' - palisade-bench:img >/dev/null
docker save -o "$w/img.tar" palisade-bench:img
size=$(du -h "$w/img.tar" | cut -f1)

export PALISADE_STORE=$w/store
cd "$w"
hyperfine --warmup 2 --runs "$runs" --export-markdown "$w/first.md" --style basic \
  -n "enforce run --image img.tar (unpack, run)" --prepare "rm -rf $w/store" \
  "$enforce run --image $w/img.tar -- /bin/true" \
  -n "docker load -i img.tar && docker run" --prepare "docker rmi -f palisade-bench:img >/dev/null 2>&1 || true" \
  "docker load -q -i $w/img.tar >/dev/null && docker run --rm --pull never --network none palisade-bench:img /bin/true" \
  > "$w/first.log"

"$enforce" image load "$w/img.tar" > /dev/null
docker load -q -i "$w/img.tar" > /dev/null
tree=$(ls -d "$w"/store/images/*/rootfs)
hyperfine -N --warmup 5 --runs "$runs" --export-markdown "$w/second.md" --style basic \
  -n "enforce run --image palisade-bench:img" "$enforce run --image palisade-bench:img -- /bin/true" \
  -n "enforce run --rootfs (the same tree)" "$enforce run --rootfs $tree -- /bin/true" \
  > "$w/second.log"
hyperfine --warmup 2 --runs "$runs" --export-markdown "$w/docker.md" --style basic \
  -n "docker run --rm --network none palisade-bench:img" \
  "docker run --rm --pull never --network none palisade-bench:img /bin/true" \
  > "$w/docker.log"

python3 - "$runs" "$enforce" "$tree" > "$w/interleaved.md" <<'PY'
import statistics, subprocess, sys, time
runs, enforce, tree = int(sys.argv[1]), sys.argv[2], sys.argv[3]
cmds = [
    ("enforce run --image palisade-bench:img", [enforce, "run", "--image", "palisade-bench:img", "--", "/bin/true"]),
    ("enforce run --rootfs (the same tree)", [enforce, "run", "--rootfs", tree, "--", "/bin/true"]),
]
times = {n: [] for n, _ in cmds}
# In turns, the order swapped each round (A B, B A): neither always follows the other.
for r in range(runs * 5):
    for n, a in (cmds if r % 2 == 0 else cmds[::-1]):
        t = time.perf_counter()
        subprocess.run(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times[n].append((time.perf_counter() - t) * 1e3)
rootfs = statistics.median(times["enforce run --rootfs (the same tree)"])
print("| Command (interleaved) | Median [ms] | vs `--rootfs` |")
print("|:---|---:|---:|")
for n, _ in cmds:
    m = statistics.median(times[n])
    print(f"| `{n}` | {m:.1f} | {m / rootfs:.2f} |")
PY

{
  echo "Measured by \`benches/images.sh\` ($runs runs each) on Linux $(uname -r), $(nproc) CPUs, as root:"
  echo "one busybox image ($size \`docker save\` archive, one layer), \`/bin/true\` in it, \`builtin:docker-default\`;"
  echo "dockerd $(dockerd --version | sed 's/^Docker version //; s/,.*//') private to the run, with runc."
  echo
  echo "First run of the image (Palisade: an empty store each time, so it checks and unpacks the"
  echo "archive; Docker: the image removed each time, so \`docker load\` reads it again):"
  echo
  cat "$w/first.md"
  echo
  echo "Second run (nothing to unpack; the container's writable layer is made and removed each run):"
  echo
  cat "$w/second.md"
  echo
  cat "$w/docker.md"
  echo
  echo "The two second runs again, interleaved ($((runs * 5)) rounds, each running both once, the order"
  echo "swapped every round; from Python, so each time includes its fork and exec):"
  echo
  cat "$w/interleaved.md"
} > "$w/section.md"
cat "$w/section.md"
cd - >/dev/null
python3 - "$w/section.md" <<'PY'
import sys
doc = open("docs/performance.md").read()
b, e = "<!-- bench:images:begin -->", "<!-- bench:images:end -->"
new = open(sys.argv[1]).read()
if b not in doc:
    doc = doc.rstrip("\n") + "\n\n## Images\n" + b + "\n" + e + "\n"
i, j = doc.index(b), doc.index(e)
open("docs/performance.md", "w").write(doc[: i + len(b)] + "\n" + new + doc[j:])
PY
echo "updated docs/performance.md"

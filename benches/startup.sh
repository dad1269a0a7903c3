#!/usr/bin/env bash
# Startup benchmark, one hyperfine run: `enforce run` of /bin/true in a busybox rootfs with all
# namespaces and the docker-default policy, against bubblewrap (with and without a seccomp
# filter), crun and runc (with and without seccomp) on an equivalent OCI bundle, and unshare.
# Also the memory of the PID-1 shim. Writes the results into docs/performance.md.
# Usage (root): benches/startup.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=100
[ "${1:-}" = "--runs" ] && runs=$2

need=()
for pkg_cmd in hyperfine:hyperfine bubblewrap:bwrap crun:crun runc:runc busybox-static:busybox jq:jq; do
  command -v "${pkg_cmd##*:}" >/dev/null 2>&1 || need+=("${pkg_cmd%%:*}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The binaries as shipped (scripts/build-release: static), and `cargo build --release`'s
# dynamically linked enforce for comparison.
bin=$(./scripts/build-release)
enforce=$bin/enforce
policyc=$bin/policyc
cargo build -q --release --bin enforce
dynamic=$PWD/target/release/enforce

w=$(mktemp -d /tmp/palisade-startup.XXXXXX)
trap 'rm -rf "$w"' EXIT
chmod 755 "$w"
root=$w/rootfs
mkdir -p "$root"/{bin,proc,dev,sys,tmp,etc}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true sleep grep; do ln -s busybox "$root/bin/$a"; done

# Seccomp for every peer: our docker-default, as BPF (bwrap) and as OCI JSON (crun, runc).
"$policyc" compile builtin:docker-default --emit bpf --arch x86_64 -o "$w/seccomp.bpf" 2>/dev/null
"$policyc" compile builtin:docker-default --emit oci-seccomp --arch x86_64 > "$w/seccomp.json"

bundle() { # bundle DIR WITH_SECCOMP
  mkdir -p "$1"
  (cd "$1" && runc spec)
  jq --arg root "$root" '.root.path = $root | .root.readonly = true | .process.args = ["/bin/true"] | .process.terminal = false' \
    "$1/config.json" > "$1/c.json"
  if [ "$2" = yes ]; then
    jq --slurpfile s "$w/seccomp.json" '.linux.seccomp = $s[0]' "$1/c.json" > "$1/config.json"
  else
    mv "$1/c.json" "$1/config.json"
  fi
}
bundle "$w/plain" no
bundle "$w/sec" yes

crun_cmd() { echo "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; crun run --bundle $1 c\$\$ >/dev/null'"; }

# Let the builds' writeback settle before measuring.
sync
sleep 10
hyperfine --warmup 50 --runs "$runs" --export-markdown "$w/startup.md" --style basic \
  -n "enforce run (all namespaces, docker-default)" "$enforce run --profile builtin:docker-default --rootfs $root -- /bin/true" \
  -n "enforce run, dynamically linked (cargo build --release)" "$dynamic run --profile builtin:docker-default --rootfs $root -- /bin/true" \
  -n "enforce run --no-cache (compiles the profile every time)" "$enforce run --no-cache --profile builtin:docker-default --rootfs $root -- /bin/true" \
  -n "bwrap --unshare-all" "bwrap --unshare-all --die-with-parent --ro-bind $root / --proc /proc --dev /dev /bin/true" \
  -n "bwrap --unshare-all --seccomp" "bwrap --unshare-all --die-with-parent --ro-bind $root / --proc /proc --dev /dev --seccomp 9 /bin/true 9< $w/seccomp.bpf" \
  -n "crun run" "$(crun_cmd "$w/plain")" \
  -n "crun run (seccomp)" "$(crun_cmd "$w/sec")" \
  -n "runc run" "runc run --bundle $w/plain r\$\$ >/dev/null" \
  -n "runc run (seccomp)" "runc run --bundle $w/sec r\$\$ >/dev/null" \
  -n "unshare" "unshare --user --map-root-user --pid --fork --mount --net --uts --ipc /bin/true" \
  > "$w/hyperfine.log"

# hyperfine measures one command after another, so drift of the machine between blocks shows up
# as a difference between commands. The close pair is measured again interleaved: each round runs
# every command once, in turn.
python3 - "$runs" "$enforce" "$dynamic" "$root" "$w/seccomp.bpf" > "$w/interleaved.md" <<'PY'
import os, statistics, subprocess, sys, time
runs, enforce, dynamic, root, bpf = int(sys.argv[1]), *sys.argv[2:]
bwrap = ["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", root, "/", "--proc", "/proc", "--dev", "/dev"]
run = ["run", "--profile", "builtin:docker-default", "--rootfs", root, "--", "/bin/true"]
cmds = [
    ("enforce run (static, as shipped)", [enforce, *run], False),
    ("enforce run (dynamically linked)", [dynamic, *run], False),
    ("bwrap --unshare-all --seccomp", [*bwrap, "--seccomp", "9", "/bin/true"], True),
    ("bwrap --unshare-all", [*bwrap, "/bin/true"], False),
]
def once(argv, fd9):
    fds = ()
    if fd9:
        fd = os.open(bpf, os.O_RDONLY)
        os.dup2(fd, 9)
        os.close(fd)
        fds = (9,)
    t = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, pass_fds=fds)
    d = time.perf_counter() - t
    if fd9:
        os.close(9)
    if r.returncode != 0:
        sys.exit(f"{argv[0]} failed ({r.returncode})")
    return d * 1e3
times = {n: [] for n, _, _ in cmds}
for _ in range(10):
    for _, a, f in cmds:
        once(a, f)
for _ in range(runs):
    for n, a, f in cmds:
        times[n].append(once(a, f))
ref = statistics.median(times["bwrap --unshare-all --seccomp"])
print("| Command (interleaved) | Median [ms] | Mean [ms] | p10 [ms] | Median vs bwrap --seccomp |")
print("|:---|---:|---:|---:|---:|")
for n, _, _ in cmds:
    v = sorted(times[n])
    print(f"| `{n}` | {statistics.median(v):.2f} | {statistics.mean(v):.2f} | {v[len(v) // 10]:.2f} | {statistics.median(v) / ref:.2f} |")
PY

# The PID-1 shim's memory, read from inside while the workload runs, once the shim has settled
# (it gives memory back once the workload has run for 20 ms).
rss=$("$enforce" run --profile builtin:docker-default --rootfs "$root" -- /bin/sh -c 'sleep 0.2; grep -E "^(VmRSS|RssAnon|RssFile)" /proc/1/status' | tr -s '\t ' ' ' | paste -sd ';' -)

{
  echo "Measured by \`benches/startup.sh\` (hyperfine, shell start-up subtracted, $runs runs each) on Linux $(uname -r), $(nproc) CPUs."
  echo "Seccomp for every peer is Palisade's docker-default (BPF for bwrap, OCI JSON for crun and runc)."
  echo
  cat "$w/startup.md"
  echo
  echo "The same four again, interleaved ($runs rounds, each running every command once in turn; wall time from Python, no shell):"
  echo
  cat "$w/interleaved.md"
  echo
  echo "PID-1 shim memory (from /proc/1/status inside the container): $rss."
} > "$w/section.md"
cat "$w/section.md"

python3 - "$w/section.md" <<'PY'
import sys
doc = open("docs/performance.md").read()
b, e = "<!-- bench:startup:begin -->", "<!-- bench:startup:end -->"
new = open(sys.argv[1]).read()
i, j = doc.index(b), doc.index(e)
open("docs/performance.md", "w").write(doc[: i + len(b)] + "\n" + new + doc[j:])
PY
echo "updated docs/performance.md"

#!/usr/bin/env bash
# OCI runtime benchmark (root; starts a private dockerd: Debian's docker.io), one hyperfine
# run: the runtime's own cycle on one bundle (busybox
# /bin/true, Docker's default seccomp profile in config.json) for palisade-runtime, crun and
# runc: `run` (create, start, wait and delete in one process) and the four steps an engine
# takes (`create`, `start`, wait for the init, `delete`). Writes the results into
# docs/performance.md.
# Usage (root): benches/oci_runtime.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=100
[ "${1:-}" = "--runs" ] && runs=$2

need=()
for pkg_cmd in hyperfine:hyperfine crun:crun runc:runc busybox-static:busybox jq:jq; do
  command -v "${pkg_cmd##*:}" >/dev/null 2>&1 || need+=("${pkg_cmd%%:*}")
done
if [ "${#need[@]}" -gt 0 ]; then
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
bin=$(./scripts/build-release)
ours=$bin/palisade-runtime
policyc=$bin/policyc

w=$(mktemp -d /tmp/palisade-oci-bench.XXXXXX)
trap 'rm -rf "$w"' EXIT
chmod 755 "$w"
root=$w/rootfs
mkdir -p "$root"/{bin,proc,dev,sys,tmp,etc}
cp "$(command -v busybox)" "$root/bin/busybox"
for a in sh true; do ln -s busybox "$root/bin/$a"; done
"$policyc" compile builtin:docker-default --emit oci-seccomp --arch x86_64 > "$w/seccomp.json"
mkdir -p "$w/b"
(cd "$w/b" && runc spec)
jq --arg root "$root" --slurpfile s "$w/seccomp.json" \
  '.root.path = $root | .process.args = ["/bin/true"] | .process.terminal = false | .linux.seccomp = $s[0]' \
  "$w/b/config.json" > "$w/b/c.json" && mv "$w/b/c.json" "$w/b/config.json"

# crun needs the cgroup2 mount that holds only hugetlb out of its way on this machine.
crun_in() { echo "unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified 2>/dev/null; $1'"; }
# The engine's cycle: create (with a pid file), start, wait until the init has exited (polled in
# /proc: an engine's shim waits for it as its subreaper; here it is a zombie until this machine's
# PID 1 reaps it), delete.
cycle() { # cycle RUNTIME ROOT
  echo "$1 --root $2 create --pid-file $w/pid.\$\$ --bundle $w/b c\$\$ >/dev/null && $1 --root $2 start c\$\$ && p=\$(cat $w/pid.\$\$) && while [ -e /proc/\$p ] && ! grep -qs \") Z\" /proc/\$p/stat; do :; done; $1 --root $2 delete c\$\$"
}

sync
sleep 5
hyperfine --warmup 20 --runs "$runs" --export-markdown "$w/run.md" --export-json "$w/run.json" --style basic \
  -n "palisade-runtime run" "$ours --root $w/p run --bundle $w/b p\$\$ >/dev/null" \
  -n "crun run" "$(crun_in "crun --root $w/c run --bundle $w/b c\$\$ >/dev/null")" \
  -n "runc run" "runc --root $w/r run --bundle $w/b r\$\$ >/dev/null" \
  -n "palisade-runtime create+start+wait+delete" "$(cycle "$ours" "$w/p")" \
  -n "crun create+start+wait+delete" "$(crun_in "$(cycle crun "$w/c")")" \
  -n "runc create+start+wait+delete" "$(cycle runc "$w/r")" \
  > "$w/hyperfine.log"

# `docker run --rm IMAGE true` with each runtime, one private dockerd, one hyperfine run.
d=$w/docker
mkdir -p "$d"
echo "{\"runtimes\": {\"palisade\": {\"path\": \"$ours\"}}}" > "$d/daemon.json"
dockerd --iptables=false --ip-masq=false --bridge=none --data-root "$d/data" --exec-root "$d/exec" \
  --pidfile "$d/pid" --config-file "$d/daemon.json" -H "unix://$d/sock" > "$d/log" 2>&1 &
export DOCKER_HOST=unix://$d/sock
for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
tar -C "$root" -c . | docker import - palisade-bench:busybox >/dev/null
docker_cmd() { echo "docker run --rm --pull never --network none --runtime $1 palisade-bench:busybox /bin/true"; }
hyperfine --warmup 3 --runs 20 --export-markdown "$w/docker.md" --export-json "$w/docker.json" --style basic \
  -n "docker run --runtime palisade" "$(docker_cmd palisade)" \
  -n "docker run --runtime runc" "$(docker_cmd runc)" \
  > "$w/hyperfine-docker.log"
kill "$(cat "$d/pid")"
while [ -e "$d/pid" ]; do sleep 0.1; done
{ grep " $d" /proc/self/mountinfo || true; } | cut -d' ' -f5 | sort -r | xargs -r -n1 umount -l

{
  echo "Measured by \`benches/oci_runtime.sh\` (hyperfine, $runs runs each, one run for all) on Linux $(uname -r), $(nproc) CPUs:"
  echo "busybox \`/bin/true\`, runc's default spec, Docker's default seccomp profile (Palisade's docker-default as OCI JSON) in config.json;"
  echo "palisade-runtime compiles it with its own BPF generator, crun and runc with libseccomp. crun runs inside \`unshare -m\` (it needs this"
  echo "machine's hugetlb-only cgroup2 mount out of its way), which adds the cost of one unshare and one sh to its rows."
  echo "palisade-runtime's compile cache holds the compiled section after the warm-up (the first container compiles it)."
  echo
  cat "$w/run.md"
  echo
  python3 - "$w/run.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
for kind in ["run", "create+start+wait+delete"]:
    ours = r[f"palisade-runtime {kind}"]
    print(f"- `{kind}`: palisade-runtime / crun = {ours / r[f'crun {kind}']:.2f}, palisade-runtime / runc = {ours / r[f'runc {kind}']:.2f} (means).")
PY
  echo
  echo "\`docker run --rm --network none IMAGE /bin/true\` through one private dockerd $(dockerd --version | cut -d, -f1 | cut -d' ' -f3) (20 runs each, the engine's own work included):"
  echo
  cat "$w/docker.md"
  echo
  python3 - "$w/docker.json" <<'PY'
import json, sys
r = {x["command"]: x["mean"] for x in json.load(open(sys.argv[1]))["results"]}
print(f"- palisade / runc = {r['docker run --runtime palisade'] / r['docker run --runtime runc']:.2f} (means).")
PY
} > "$w/section.md"
cat "$w/section.md"

python3 - "$w/section.md" <<'PY'
import sys
doc = open("docs/performance.md").read()
b, e = "<!-- bench:oci:begin -->", "<!-- bench:oci:end -->"
new = open(sys.argv[1]).read()
if b not in doc:
    doc += "\n## OCI runtime\n" + b + "\n" + e + "\n"
i, j = doc.index(b), doc.index(e)
open("docs/performance.md", "w").write(doc[: i + len(b)] + "\n" + new + doc[j:])
PY

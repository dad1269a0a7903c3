//! Issue 19, first step: images are checked and unpacked into the store. The same image from
//! a podman OCI archive, a `docker save` archive and a skopeo OCI layout is one stored image,
//! unpacked once; layers built by Docker itself (a deleted file, a replaced directory) unpack
//! to what `docker export` gives; and a damaged or hostile image is refused, naming the blob
//! and entry, with nothing left in the store.

mod common;

use common::images::{enforce, file, layout, root, text};

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every entry beneath `dir`: relative path → type, mode, owner, and contents or link target.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            let m = std::fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let t = m.file_type();
            let what = if t.is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if t.is_dir() {
                "dir".to_string()
            } else if t.is_fifo() {
                "fifo".to_string()
            } else {
                format!("file {}", text(&std::fs::read(&p).unwrap()).len())
            };
            let mode = if t.is_symlink() { 0 } else { m.mode() & 0o7777 };
            out.insert(rel, format!("{what} {mode:o} {}:{}", m.uid(), m.gid()));
            if t.is_dir() {
                walk(base, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The store holds nothing half-made: no temporary directory, and `images` as given.
fn store_is(store: &Path, images: usize) {
    let tmp = store.join("tmp");
    let left: Vec<_> =
        std::fs::read_dir(&tmp).map(|d| d.map(|e| e.unwrap().path()).collect()).unwrap_or_default();
    assert!(left.is_empty(), "left in the store: {left:?}");
    let n = std::fs::read_dir(store.join("images")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, images, "images in the store");
}

fn stored_rootfs(store: &Path, id_line: &str) -> PathBuf {
    PathBuf::from(id_line.split_whitespace().last().unwrap())
        .canonicalize()
        .unwrap_or_else(|_| panic!("{id_line} in {}", store.display()))
}

#[test]
fn one_image_from_three_formats_is_unpacked_once() {
    if !root() {
        return;
    }
    for tool in ["podman", "skopeo"] {
        let ok = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(ok, "{tool} is missing (scripts/install-deps installs it)");
    }
    let d = common::tempdir("images-formats");
    let rootfs = common::rootfs::build(d.path());
    std::fs::write(rootfs.join("data/in.txt"), "inside\n").unwrap();
    let tar = d.join("root.tar");
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let name = format!("localhost/palisade-images-{}:v1", std::process::id());
    let podman = |args: &[&str]| Command::new("podman").args(args).output().unwrap();
    let o = podman(&["import", "-q", tar.to_str().unwrap(), &name]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let (oci, docker, layout) = (d.join("oci.tar"), d.join("docker.tar"), d.join("layout"));
    let saved = [
        podman(&["save", "-q", "--format", "oci-archive", "-o", oci.to_str().unwrap(), &name]),
        podman(&["save", "-q", "--format", "docker-archive", "-o", docker.to_str().unwrap(), &name]),
    ];
    let _ = podman(&["rmi", "-f", &name]);
    for o in &saved {
        assert!(o.status.success(), "{}", text(&o.stderr));
    }
    let o = Command::new("skopeo")
        .args([
            "copy",
            "-q",
            &format!("docker-archive:{}", docker.display()),
            &format!("oci:{}:v1", layout.display()),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let store = d.join("store");
    let first = enforce(&store, &["image", "load", oci.to_str().unwrap()]);
    assert!(text(&first.stdout).starts_with("loaded: "), "{}{}", text(&first.stdout), text(&first.stderr));
    let id = text(&first.stdout).split_whitespace().nth(1).unwrap().to_string();
    for (src, tag) in [(&docker, None), (&layout, Some("v1"))] {
        let mut args = vec!["image", "load", src.to_str().unwrap()];
        if let Some(t) = tag {
            args.extend(["--tag", t]);
        }
        let o = enforce(&store, &args);
        let out = text(&o.stdout);
        assert!(out.starts_with(&format!("already stored: {id} ")), "{out}{}", text(&o.stderr));
    }
    store_is(&store, 1);
    // A container runs from the podman OCI archive and from the skopeo layout (by path).
    for src in [oci.display().to_string(), format!("{}:v1", layout.display())] {
        let o = enforce(
            &store,
            &["run", "--image", &src, "--", "sh", "-c", "cat /data/in.txt; echo w > /data/w; cat /data/w"],
        );
        assert_eq!(
            (o.status.code(), text(&o.stdout).as_str()),
            (Some(0), "inside\nw\n"),
            "{src}: {}",
            text(&o.stderr)
        );
    }
    store_is(&store, 1);
    let unpacked = stored_rootfs(&store, text(&first.stdout).trim());
    assert_eq!(tree(&unpacked), tree(&rootfs), "the unpacked root is the tree that was imported");
    let listed = enforce(&store, &["images"]);
    assert!(text(&listed.stdout).contains(&name), "{}", text(&listed.stdout));
    let o = enforce(&store, &["rmi", &name]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    store_is(&store, 0);
}

/// Layers Docker built (a file deleted in an upper layer, a directory replaced: an opaque
/// whiteout) unpack to the tree `docker export` gives of a container of the image.
#[test]
fn layers_docker_built_unpack_as_docker_exports_them() {
    if !root() {
        return;
    }
    let Some(daemon) = common::dockerd::start("images", serde_json::json!({})) else { return };
    let d = common::tempdir("images-docker");
    let ctx = d.join("ctx");
    std::fs::create_dir(&ctx).unwrap();
    let dockerfile = format!(
        "FROM {}\nRUN mkdir -p /data/dir /data/keep && echo old > /data/dir/old && echo gone > /data/gone && echo kept > /data/keep/k\nRUN rm /data/gone && rm -rf /data/dir && mkdir /data/dir && echo new > /data/dir/new && ln -s /data/keep /data/to-keep\n",
        common::dockerd::IMAGE
    );
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let o = daemon.docker(&["build", "-q", "-t", "palisade-layers:v1", ctx.to_str().unwrap()]);
    assert!(o.status.success(), "docker build: {}", text(&o.stderr));
    let saved = d.join("saved.tar");
    let o = daemon.docker(&["save", "-o", saved.to_str().unwrap(), "palisade-layers:v1"]);
    assert!(o.status.success(), "docker save: {}", text(&o.stderr));
    let o = daemon.docker(&["create", "palisade-layers:v1", "true"]);
    assert!(o.status.success(), "docker create: {}", text(&o.stderr));
    let container = text(&o.stdout).trim().to_string();
    let exported = d.join("exported");
    std::fs::create_dir(&exported).unwrap();
    let tar = d.join("export.tar");
    let o = daemon.docker(&["export", "-o", tar.to_str().unwrap(), &container]);
    assert!(o.status.success(), "docker export: {}", text(&o.stderr));
    assert!(Command::new("tar").arg("-C").arg(&exported).arg("-xf").arg(&tar).status().unwrap().success());
    let store = d.join("store");
    let o = enforce(&store, &["image", "load", saved.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let unpacked = stored_rootfs(&store, text(&o.stdout).trim());
    // What the engine adds to a container (mount points and files it writes) is not the image's.
    let engine = |p: &String| {
        [".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab"].contains(&p.as_str())
            || ["dev", "proc", "sys"].iter().any(|m| p.starts_with(&format!("{m}/")))
    };
    let (mut ours, mut docker) = (tree(&unpacked), tree(&exported));
    ours.retain(|p, _| !engine(p));
    docker.retain(|p, _| !engine(p));
    // `docker export` writes directories' times and the engine's mount points: owners and
    // modes of the mount points are the engine's too.
    for m in ["dev", "proc", "sys", "etc"] {
        ours.remove(m);
        docker.remove(m);
    }
    assert_eq!(ours, docker);
    assert!(!unpacked.join("data/gone").exists() && !unpacked.join("data/dir/old").exists());
    assert_eq!(std::fs::read_to_string(unpacked.join("data/dir/new")).unwrap(), "new\n");
}

#[test]
fn whiteouts_remove_what_lower_layers_made_and_devices_are_said() {
    if !root() {
        return;
    }
    let d = common::tempdir("images-whiteouts");
    let src = layout(
        &d.join("l"),
        serde_json::json!({ "layers": [
            [ {"name": "a", "type": "dir"}, file("a/x", "x"), file("a/y", "y"), {"name": "b", "type": "dir"},
              file("b/z", "z"), {"name": "b/sub", "type": "dir"}, file("b/sub/deep", "d") ],
            [ file("a/.wh.x", ""), file("b/new", "n"), file("b/.wh..wh..opq", ""),
              {"name": "dev0", "type": "char"}, {"name": "pipe", "type": "fifo"},
              {"name": "a/hard", "type": "hardlink", "target": "a/y"} ]
        ]}),
    );
    let store = d.join("store");
    let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("not made: dev0: a device node"), "{}", text(&o.stderr));
    let r = stored_rootfs(&store, text(&o.stdout).trim());
    let names: Vec<String> = tree(&r).keys().cloned().collect();
    assert_eq!(names, ["a", "a/hard", "a/y", "b", "b/new", "pipe"]);
    assert_eq!(
        std::fs::metadata(r.join("a/hard")).unwrap().ino(),
        std::fs::metadata(r.join("a/y")).unwrap().ino()
    );
}

#[test]
fn a_damaged_or_hostile_image_is_refused_naming_the_blob_and_entry() {
    if !root() {
        return;
    }
    let d = common::tempdir("images-bad");
    let store = d.join("store");
    let marker = format!("palisade-escape-{}", std::process::id());
    let cases: Vec<(&str, serde_json::Value, String)> = vec![
        (
            "dotdot",
            serde_json::json!({"layers": [[file("../escape", "x")]]}),
            "entry ../escape: a path with `..`: refused".into(),
        ),
        (
            "absolute",
            serde_json::json!({"layers": [[file("/abs", "x")]]}),
            "entry /abs: an absolute path: refused".into(),
        ),
        (
            "hardlink",
            serde_json::json!({"layers": [[{"name": "h", "type": "hardlink", "target": "../../etc/passwd"}]]}),
            "entry h: a hard link to a path with `..` (../../etc/passwd): refused".into(),
        ),
        (
            "whiteout",
            serde_json::json!({"layers": [[file("a", "")], [file(".wh.missing", "")]]}),
            "entry .wh.missing: a whiteout of missing, which no lower layer has".into(),
        ),
        (
            "arch",
            serde_json::json!({"arch": "arm64", "layers": [[file("a", "")]]}),
            "for linux/arm64, and this machine is linux/amd64".into(),
        ),
        (
            "index-arch",
            serde_json::json!({"index_platforms": ["arm64", "s390x"], "layers": [[file("a", "")]]}),
            "for linux/arm64, linux/s390x, and this machine is linux/amd64".into(),
        ),
    ];
    for (name, spec, want) in cases {
        let src = layout(&d.join(name), spec);
        let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
        let err = text(&o.stderr);
        assert!(!o.status.success() && err.contains(&want), "{name}: {want} in {err}");
        store_is(&store, 0);
    }
    // Through a multi-arch index, this machine's entry.
    let src = layout(
        &d.join("index-ok"),
        serde_json::json!({"index_platforms": ["arm64", "amd64"], "layers": [[file("a", "")]]}),
    );
    let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = enforce(&store, &["rmi", text(&o.stdout).split_whitespace().nth(1).unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    store_is(&store, 0);
    // A link out of the root is followed inside it: the file lands in the image.
    let src = layout(
        &d.join("symlink"),
        serde_json::json!({"layers": [[{"name": "evil", "type": "symlink", "target": "/"},
            {"name": "up", "type": "symlink", "target": "../../../.."}],
            [file(&format!("evil/{marker}"), "in"), file(&format!("up/{marker}-2"), "in")]]}),
    );
    let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let r = stored_rootfs(&store, text(&o.stdout).trim());
    assert!(r.join(&marker).is_file() && r.join(format!("{marker}-2")).is_file());
    assert!(!Path::new("/").join(&marker).exists() && !Path::new("/").join(format!("{marker}-2")).exists());
    let o = enforce(&store, &["rmi", text(&o.stdout).split_whitespace().nth(1).unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A layer whose bytes were changed: its digest says so.
    let src =
        layout(&d.join("tampered"), serde_json::json!({"gzip": false, "layers": [[file("a", "aaaa")]]}));
    let blobs = src.join("blobs/sha256");
    let layer = std::fs::read_dir(&blobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| std::fs::read(p).unwrap().windows(4).any(|w| w == b"aaaa"))
        .unwrap();
    let mut bytes = std::fs::read(&layer).unwrap();
    let at = bytes.windows(4).position(|w| w == b"aaaa").unwrap();
    bytes[at] = b'b';
    std::fs::write(&layer, bytes).unwrap();
    let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
    let err = text(&o.stderr);
    let blob = layer.file_name().unwrap().to_string_lossy().to_string();
    assert!(!o.status.success() && err.contains(&blob) && err.contains("digest mismatch"), "{err}");
    store_is(&store, 0);
    // An OCI archive cut short.
    let whole = d.join("whole.tar");
    let ok = layout(&d.join("ok"), serde_json::json!({"layers": [[file("a", &"z".repeat(100_000))]]}));
    assert!(Command::new("tar")
        .arg("-C")
        .arg(&ok)
        .arg("-cf")
        .arg(&whole)
        .arg(".")
        .status()
        .unwrap()
        .success());
    let bytes = std::fs::read(&whole).unwrap();
    std::fs::write(&whole, &bytes[..bytes.len() / 2]).unwrap();
    let o = enforce(&store, &["image", "load", whole.to_str().unwrap()]);
    assert!(!o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).starts_with("enforce: image: "), "{}", text(&o.stderr));
    store_is(&store, 0);
}

/// `enforce run --image` runs what `docker run` runs, with the image's Entrypoint, Cmd, Env,
/// WorkingDir and User, and the command line's arguments, `--entrypoint`, `-e` and `--user` on
/// top: the same output, for each combination.
/// The images of the Docker comparison: each a Dockerfile's lines after `FROM` the busybox
/// image, and the cases run with it (the words for `docker run` before the image, `--` and
/// the arguments after it).
const DOCKER_IMAGES: [(&str, &str, &[&[&str]]); 8] = [
    (
        "exec-form",
        "RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd\nENV FOO=bar\nWORKDIR /work\nUSER app\n\
         ENTRYPOINT [\"/bin/sh\", \"-c\", \"echo $(id -u):$(id -g) $(pwd) FOO=$FOO HOME=$HOME args: \\\"$0\\\" \\\"$*\\\"\", \"first\"]\n\
         CMD [\"c1\", \"c2\"]\n",
        &[&[], &["--", "x", "y"], &["--entrypoint", "/bin/echo", "--", "hello"], &["-e", "FOO=baz"], &["--user", "0:0"]],
    ),
    (
        // Shell form: the builder wrote `/bin/sh -c` around it; arguments do not reach it.
        "shell-form",
        "ENV WHO=shell\nENTRYPOINT echo entry $WHO \"$0\" \"$@\"\nCMD [\"ignored\"]\n",
        &[&[], &["--", "a", "b"], &["--entrypoint", "/bin/echo", "--", "replaced"]],
    ),
    ("only-cmd", "CMD echo only cmd $HOME\n", &[&[], &["--", "/bin/echo", "args", "replace", "it"]]),
    (
        "only-entrypoint",
        "ENTRYPOINT [\"/bin/echo\", \"entry\"]\n",
        &[&[], &["--", "more", "args"], &["--entrypoint", "/bin/sh", "--", "-c", "echo sh then $0", "zero"]],
    ),
    (
        // Users by name, name:group and uid:gid; supplementary groups from /etc/group.
        "users",
        "RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd && echo 'root:x:0:' > /etc/group && \
         echo 'app:x:1000:' >> /etc/group && echo 'staff:x:50:app' >> /etc/group && echo 'wheel:x:10:x,app' >> /etc/group\n\
         USER app\nCMD [\"id\"]\n",
        &[&[], &["--user", "app:staff"], &["--user", "1000:50"], &["--user", "1000"], &["--user", "0"], &["--user", "4242:4242"]],
    ),
    (
        // A working directory the image does not have is made (and is root's).
        "workdir",
        "WORKDIR /made/by/build\nCMD [\"sh\", \"-c\", \"pwd; stat -c '%u:%g %a' .\"]\n",
        &[&[], &["--workdir", "/made/at/run"], &["--user", "4242", "--workdir", "/by/user"]],
    ),
    (
        // A file deleted and a directory replaced in upper layers (a whiteout, an opaque
        // directory), then written to by the container.
        "layers",
        "RUN mkdir -p /data/old && echo gone > /etc/motd && echo old > /data/old/f\nRUN rm /etc/motd\n\
         RUN rm -rf /data && mkdir /data && echo new > /data/new\nCMD [\"sh\", \"-c\", \
         \"ls /data; cat /etc/motd 2>&1; echo written > /data/w && cat /data/w && rm /data/new && ls /data\"]\n",
        &[&[]],
    ),
    (
        // A scratch-like image: one static binary, no shell.
        "no-shell",
        "ENTRYPOINT [\"/bin/busybox\", \"echo\", \"static\"]\n",
        &[&[], &["--", "args"]],
    ),
];

#[test]
fn run_image_means_what_docker_run_means() {
    if !root() {
        return;
    }
    let Some(daemon) = common::dockerd::start("imgrun", serde_json::json!({})) else { return };
    let d = common::tempdir("images-run");
    let store = d.join("store");
    for (name, lines, cases) in DOCKER_IMAGES {
        let ctx = d.join(name);
        std::fs::create_dir(&ctx).unwrap();
        let from = match name {
            // Only the static binary (the busybox image's, copied out by a stage).
            "no-shell" => format!(
                "FROM {} AS bb\nFROM scratch\nCOPY --from=bb /bin/busybox /bin/busybox\n",
                common::dockerd::IMAGE
            ),
            _ => format!("FROM {}\n", common::dockerd::IMAGE),
        };
        std::fs::write(ctx.join("Dockerfile"), format!("{from}{lines}")).unwrap();
        let tag = format!("palisade-{name}:v1");
        let o = daemon.docker(&["build", "-q", "-t", &tag, ctx.to_str().unwrap()]);
        assert!(o.status.success(), "docker build {name}: {}", text(&o.stderr));
        let saved = d.join(format!("{name}.tar"));
        let o = daemon.docker(&["save", "-o", saved.to_str().unwrap(), &tag]);
        assert!(o.status.success(), "docker save: {}", text(&o.stderr));
        let o = enforce(&store, &["image", "load", saved.to_str().unwrap()]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        for case in cases.iter() {
            // The same words for both, the image last for Docker, `--image` for us.
            let (flags, args) = match case.iter().position(|w| *w == "--") {
                Some(i) => (&case[..i], &case[i + 1..]),
                None => (*case, &[][..]),
            };
            let mut docker = vec!["run", "--rm", "--pull", "never", "--network", "none"];
            docker.extend_from_slice(flags);
            docker.push(&tag);
            docker.extend_from_slice(args);
            let theirs = daemon.docker(&docker);
            assert!(theirs.status.success(), "docker {name} {case:?}: {}", text(&theirs.stderr));
            assert!(!text(&theirs.stdout).trim().is_empty(), "docker {name} {case:?} printed nothing");
            let mut ours = vec!["run", "--image", &tag];
            ours.extend_from_slice(flags);
            if !args.is_empty() {
                ours.push("--");
                ours.extend_from_slice(args);
            }
            let o = enforce(&store, &ours);
            assert_eq!(text(&o.stdout), text(&theirs.stdout), "{name} {case:?}: {}", text(&o.stderr));
            assert_eq!(o.status.code(), theirs.status.code(), "{name} {case:?}");
        }
    }
}

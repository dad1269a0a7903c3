//! Issue 19: a container of an image writes only its own layer (overlayfs in its user
//! namespace, or a copy where that cannot be mounted), never the stored image; the layer goes
//! with the container (at the end of a foreground run, at `enforce rm`), and an image a
//! container still uses cannot be removed. A missing working directory is made in the layer.

mod common;

use std::path::Path;

use common::images::{busybox_layer, enforce, file, layout, root, text};

/// A busybox image: /etc/motd, an `app` user (1000) owning /home/app, the working directory
/// /work/dir missing.
fn image(dir: &Path) -> std::path::PathBuf {
    let mut base = busybox_layer();
    base.extend([
        file("etc/motd", "hello\n"),
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        file("etc/group", "root:x:0:\napp:x:1000:\n"),
        serde_json::json!({"name": "home", "type": "dir"}),
        serde_json::json!({"name": "home/app", "type": "dir", "uid": 1000, "gid": 1000}),
        serde_json::json!({"name": "home/app/notes", "data": "n\n", "uid": 1000, "gid": 1000}),
    ]);
    layout(
        &dir.join("layout"),
        serde_json::json!({ "gzip": false, "tag": "bb", "layers": [base],
                            "config": { "WorkingDir": "/work/dir", "Cmd": ["sh"] } }),
    )
}

fn layers(store: &Path) -> Vec<String> {
    std::fs::read_dir(store.join("containers"))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect())
        .unwrap_or_default()
}

const CHANGE: &str = "pwd; stat -c '%u:%g %a' /work/dir /home/app/notes; echo x > /etc/motd; cat /etc/motd; \
                      rm /etc/passwd; touch /new; echo more >> /home/app/notes; ls /etc";

#[test]
fn a_container_writes_its_own_layer_and_never_the_image() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-layer");
    let src = image(&d);
    let store = d.join("store");
    let o = enforce(&store, &["image", "load", src.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let rootfs = std::path::PathBuf::from(text(&o.stdout).split_whitespace().last().unwrap());
    let expected = "/work/dir\n0:0 755\n1000:1000 644\nx\ngroup\nmotd\n";
    for (how, env) in [("overlay", None), ("copy", Some("copy"))] {
        let report = d.join(format!("{how}.json"));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_enforce"));
        c.env("PALISADE_STORE", &store).args(["run", "--report", report.to_str().unwrap(), "--image", "bb"]);
        c.args(["--", "sh", "-c", CHANGE]);
        if let Some(v) = env {
            c.env("PALISADE_WRITABLE_LAYER", v);
        }
        let o = c.output().unwrap();
        assert_eq!(text(&o.stdout), expected, "{how}: {}", text(&o.stderr));
        // The report (on stderr: inside, only stderr is reachable) says how.
        assert!(
            text(&o.stderr).contains(&format!("\"writable_layer\": \"{how}\"")),
            "{how}: {}",
            text(&o.stderr)
        );
        // The image is as it was, and the layer went with the container.
        assert_eq!(std::fs::read_to_string(rootfs.join("etc/motd")).unwrap(), "hello\n");
        assert!(
            rootfs.join("etc/passwd").exists()
                && !rootfs.join("new").exists()
                && !rootfs.join("work").exists()
        );
        assert_eq!(std::fs::read_to_string(rootfs.join("home/app/notes")).unwrap(), "n\n");
        assert!(layers(&store).is_empty(), "{how}: left {:?}", layers(&store));
        // A second container starts from the image, not from the first one's changes.
        let o = enforce(
            &store,
            &["run", "--image", "bb", "--", "sh", "-c", "cat /etc/motd; ls /new 2>&1; ls /etc"],
        );
        assert_eq!(text(&o.stdout), "hello\nls: /new: No such file or directory\ngroup\nmotd\npasswd\n");
    }
    // A profile that writes `readonly_rootfs: true` gets a read-only root (as `docker run
    // --read-only`, which its Docker export says); the missing workdir is still made. An
    // isolation section that does not write it leaves the layer writable (a `-p` or
    // `--hostname` flag is such a section).
    let o = enforce(
        &store,
        &["run", "--hostname", "h", "--image", "bb", "--", "sh", "-c", "echo x > /etc/motd && cat /etc/motd"],
    );
    assert_eq!(text(&o.stdout), "x\n", "{}", text(&o.stderr));
    let profile = d.join("ro.yaml");
    std::fs::write(
        &profile,
        "name: ro\nextends: builtin:docker-default\nisolation: { readonly_rootfs: true }\n",
    )
    .unwrap();
    let o = enforce(
        &store,
        &[
            "run",
            "--profile",
            profile.to_str().unwrap(),
            "--image",
            "bb",
            "--",
            "sh",
            "-c",
            "pwd; echo x > /etc/motd",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "/work/dir\n");
    assert!(text(&o.stderr).contains("Read-only file system"), "{}", text(&o.stderr));
    assert!(layers(&store).is_empty());
}

#[test]
fn a_detached_containers_layer_keeps_its_image_until_rm() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-layer-detached");
    let src = image(&d);
    let store = d.join("store");
    let name = format!("layer-{}", std::process::id());
    let o = enforce(
        &store,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--image",
            src.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            "echo kept > /kept; sleep 60",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let held = layers(&store);
    assert_eq!(held.len(), 1, "{held:?}");
    assert!(held[0].starts_with(&format!("{name}-")), "{held:?}");
    let upper = store.join("containers").join(&held[0]).join("upper");
    for _ in 0..100 {
        if upper.join("kept").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(std::fs::read_to_string(upper.join("kept")).unwrap(), "kept\n");
    let o = enforce(&store, &["rmi", "bb"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(&format!(
            "bb is used by the container whose layer is {}",
            store.join("containers").join(&held[0]).display()
        )),
        "{}",
        text(&o.stderr)
    );
    let o = enforce(&store, &["rm", "-f", &name]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(layers(&store).is_empty(), "{:?}", layers(&store));
    let o = enforce(&store, &["rmi", "bb"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

/// An image whose `User` is `app` (a member of two groups), `Env` set, and a `StopSignal`.
fn app_image(dir: &Path) -> std::path::PathBuf {
    let mut base = busybox_layer();
    base.extend([
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
        file("etc/group", "root:x:0:\napp:x:1000:\nstaff:x:50:app\nwheel:x:10:other,app\n"),
    ]);
    layout(
        &dir.join("app-layout"),
        serde_json::json!({ "gzip": true, "tag": "app", "layers": [base],
            "config": { "User": "app", "Cmd": ["id"], "Env": ["A=image", "C=image"], "StopSignal": "USR1" } }),
    )
}

fn run(store: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let o = enforce(store, args);
    (o.status.code(), text(&o.stdout), text(&o.stderr))
}

#[test]
fn the_command_line_then_the_profile_then_the_image_name_the_user() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-user");
    let src = app_image(&d);
    let store = d.join("store");
    let src = src.to_str().unwrap();
    // The image's User, with its supplementary groups from the image's /etc/group.
    let (code, out, err) = run(&store, &["run", "--image", src]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),1000(app)\n"),
        "{err}"
    );
    let (_, out, _) = run(&store, &["run", "--dry-run", "--image", src]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    let image = &plan["isolation"]["image"];
    assert_eq!(
        (image["user"].as_str(), image["user_from"].as_str()),
        (Some("1000:1000"), Some("image")),
        "{image}"
    );
    assert_eq!(image["groups"], serde_json::json!([10, 50, 1000]));
    assert_eq!(image["stop_signal"], "SIGUSR1");
    // The profile's process.user wins over the image's; --user over both.
    let p = d.join("as7.yaml");
    std::fs::write(&p, "name: as7\nextends: builtin:docker-default\nprocess: { user: \"7:7\" }\n").unwrap();
    let profile = p.to_str().unwrap();
    let (_, out, err) = run(&store, &["run", "--profile", profile, "--image", src]);
    assert_eq!(out, "uid=7 gid=7\n", "{err}");
    let (_, out, _) = run(&store, &["run", "--dry-run", "--profile", profile, "--image", src]);
    let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plan["isolation"]["image"]["user_from"], "profile");
    assert_eq!(plan["isolation"]["image"]["user"], "7:7", "the profile's ids, not the image's");
    let (_, out, _) =
        run(&store, &["run", "--profile", profile, "--image", src, "--", "sh", "-c", "echo $HOME"]);
    assert_eq!(out, "/\n", "uid 7 has no entry in the image's passwd");
    let (_, out, err) = run(&store, &["run", "--profile", profile, "--image", src, "--user", "app:staff"]);
    assert_eq!(out, "uid=1000(app) gid=50(staff) groups=50(staff)\n", "{err}");
    // A profile that requires a non-root user runs the image's app, and refuses root.
    let p = d.join("nonroot.yaml");
    std::fs::write(
        &p,
        "name: nonroot\nextends: builtin:docker-default\nprocess: { run_as_non_root: true }\n",
    )
    .unwrap();
    let nonroot = p.to_str().unwrap();
    let (code, out, err) = run(&store, &["run", "--profile", nonroot, "--image", src]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),1000(app)\n"),
        "{err}"
    );
    let (code, out, err) = run(&store, &["run", "--profile", nonroot, "--image", src, "--user", "0"]);
    assert_eq!((code, out.as_str()), (Some(125), ""));
    assert!(
        err.contains("enforce-flags.yaml:5:9: error: `user` is root, and `run_as_non_root` is true"),
        "{err}"
    );
    let mut root_image = busybox_layer();
    root_image.push(file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    let rooted =
        layout(&d.join("rooted"), serde_json::json!({ "layers": [root_image], "config": { "Cmd": ["id"] } }));
    // An image without a User under a profile that names one: the profile's, and no group of
    // root's.
    let (_, out, err) = run(&store, &["run", "--profile", profile, "--image", rooted.to_str().unwrap()]);
    assert_eq!(out, "uid=7 gid=7\n", "{err}");
    let (code, out, err) = run(&store, &["run", "--profile", nonroot, "--image", rooted.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(125), ""));
    assert!(err.contains("the profile requires a non-root user (process.run_as_non_root), and the image names no User, so it runs as root; nothing was run"), "{err}");
    assert!(layers(&store).is_empty(), "{:?}", layers(&store));
    // A StopSignal `enforce stop` cannot send (real-time) leaves SIGTERM, said; the image runs.
    let mut rt = busybox_layer();
    rt.push(file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"));
    let rt = layout(
        &d.join("rt"),
        serde_json::json!({ "layers": [rt], "config": { "Cmd": ["echo", "ran"], "StopSignal": "SIGRTMIN+3" } }),
    );
    let (code, out, err) = run(&store, &["run", "--image", rt.to_str().unwrap()]);
    assert_eq!((code, out.as_str()), (Some(0), "ran\n"), "{err}");
    assert!(
        err.contains(
            "the image's StopSignal \"SIGRTMIN+3\" is not one `enforce stop` sends: it sends SIGTERM"
        ),
        "{err}"
    );
    // A user the image does not have.
    let (code, _, err) = run(&store, &["run", "--image", src, "--user", "ghost"]);
    assert_eq!(code, Some(125));
    assert!(err.contains("no user ghost in the image's /etc/passwd"), "{err}");
}

#[test]
fn env_files_come_between_the_images_env_and_dash_e_and_a_profile_can_name_the_image() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-env");
    let src = app_image(&d);
    let store = d.join("store");
    let env_file = d.join("env");
    std::fs::write(&env_file, "# a comment\nA=file\nB=file\n").unwrap();
    let (code, out, err) = run(
        &store,
        &[
            "run",
            "--image",
            src.to_str().unwrap(),
            "--env-file",
            env_file.to_str().unwrap(),
            "-e",
            "B=flag",
            "--",
            "env",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let mut vars: Vec<&str> =
        out.lines().filter(|l| !l.starts_with("PATH=") && !l.starts_with("HOSTNAME=")).collect();
    vars.sort();
    assert_eq!(vars, ["A=file", "B=flag", "C=image", "HOME=/home/app"]);
    // `isolation.image` in a profile, relative to the profile's directory, with its tag.
    let p = d.join("app.yaml");
    std::fs::write(&p, "name: app\nextends: builtin:docker-default\nisolation:\n  image: ./app-layout:app\n  readonly_rootfs: false\n").unwrap();
    let (code, out, err) = run(&store, &["run", "--profile", p.to_str().unwrap()]);
    assert_eq!(
        (code, out.as_str()),
        (Some(0), "uid=1000(app) gid=1000(app) groups=10(wheel),50(staff),1000(app)\n"),
        "{err}"
    );
    let p = d.join("both.yaml");
    std::fs::write(&p, "name: both\nisolation:\n  image: app:latest\n  rootfs: /\n").unwrap();
    let (code, _, err) = run(&store, &["run", "--profile", p.to_str().unwrap()]);
    assert_eq!(code, Some(125));
    assert!(
        err.contains("both.yaml:4:11: error: `rootfs` and `image` both name the container's root"),
        "{err}"
    );
}

#[test]
fn stop_sends_the_images_stop_signal() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-stop");
    let src = app_image(&d);
    let store = d.join("store");
    let name = format!("stopsig-{}", std::process::id());
    let script = "trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.1; done";
    let (code, _, err) = run(
        &store,
        &["run", "-d", "--name", &name, "--image", src.to_str().unwrap(), "--", "sh", "-c", script],
    );
    assert_eq!(code, Some(0), "{err}");
    for _ in 0..100 {
        if run(&store, &["logs", &name]).1.contains("ready") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (code, _, err) = run(&store, &["stop", "--time", "10", &name]);
    assert_eq!(code, Some(0), "{err}");
    let (_, logs, _) = run(&store, &["logs", &name]);
    let (_, ps, _) = run(&store, &["ps", "--format", "json"]);
    run(&store, &["rm", "-f", &name]);
    assert_eq!(logs, "ready\ngot USR1\n");
    assert!(ps.contains("\"exit_code\": 3"), "{ps}");
    assert!(layers(&store).is_empty());
}

/// `enforce` as a normal user (`nobody`), with a store of its own: the image is unpacked with
/// the user's ids, and the container's root is root of its own user namespace (the user on the
/// host) and writes its layer through an overlayfs mounted in that namespace; the layer goes
/// when the run ends (overlayfs's mode-000 work directory included).
#[test]
fn a_normal_user_runs_an_image_and_writes_its_layer() {
    if !root() {
        return;
    }
    let d = common::tempdir("image-rootless");
    let src = image(&d);
    let (home, as_nobody) = common::images::nobody(&d);
    let script = "id -u; echo x > /etc/motd; cat /etc/motd; grep -E '^(Uid|CapEff)' /proc/self/status";
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{as_nobody} run --image {} -- sh -c \"{script}\"", src.display()))
        .output()
        .unwrap();
    assert_eq!(text(&o.stdout), "0\nx\nUid:\t0\t0\t0\t0\nCapEff:\t00000000a80425fb\n", "{}", text(&o.stderr));
    let store = home.join("store");
    let stored: Vec<_> =
        std::fs::read_dir(store.join("images")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(stored.len(), 1);
    use std::os::unix::fs::MetadataExt;
    let motd = stored[0].join("rootfs/etc/motd");
    assert_eq!(std::fs::read_to_string(&motd).unwrap(), "hello\n");
    assert_eq!(std::fs::metadata(&motd).unwrap().uid(), 65534, "unpacked with the user's ids");
    assert!(layers(&store).is_empty(), "{:?}", layers(&store));
}

//! Issue 19: a container of an image writes only its own layer (overlayfs in its user
//! namespace, or a copy where that cannot be mounted), never the stored image; the layer goes
//! with the container (at the end of a foreground run, at `enforce rm`), and an image a
//! container still uses cannot be removed. A missing working directory is made in the layer.

mod common;

use std::path::Path;

use common::images::{busybox_layer, enforce, file, layout};

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).to_string()
}

fn root() -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "the image tests need root on CI (owners are kept)");
    eprintln!("SKIPPED: the image container tests need root (owners are kept)");
    false
}

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
        assert!(text(&o.stderr).contains(&format!("\"writable_layer\": \"{how}\"")), "{how}: {}", text(&o.stderr));
        // The image is as it was, and the layer went with the container.
        assert_eq!(std::fs::read_to_string(rootfs.join("etc/motd")).unwrap(), "hello\n");
        assert!(rootfs.join("etc/passwd").exists() && !rootfs.join("new").exists() && !rootfs.join("work").exists());
        assert_eq!(std::fs::read_to_string(rootfs.join("home/app/notes")).unwrap(), "n\n");
        assert!(layers(&store).is_empty(), "{how}: left {:?}", layers(&store));
        // A second container starts from the image, not from the first one's changes.
        let o = enforce(&store, &["run", "--image", "bb", "--", "sh", "-c", "cat /etc/motd; ls /new 2>&1; ls /etc"]);
        assert_eq!(text(&o.stdout), "hello\nls: /new: No such file or directory\ngroup\nmotd\npasswd\n");
    }
    // A profile with an isolation section keeps its read-only root (as `docker run
    // --read-only`, which its Docker export says); the missing workdir is still made.
    let profile = d.join("ro.yaml");
    std::fs::write(&profile, "name: ro\nextends: builtin:docker-default\nisolation: {}\n").unwrap();
    let o = enforce(
        &store,
        &["run", "--profile", profile.to_str().unwrap(), "--image", "bb", "--", "sh", "-c", "pwd; echo x > /etc/motd"],
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
        &["run", "-d", "--name", &name, "--image", src.to_str().unwrap(), "--", "sh", "-c", "echo kept > /kept; sleep 60"],
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
    assert!(text(&o.stderr).contains(&format!("bb is used by the container whose layer is {}", store.join("containers").join(&held[0]).display())), "{}", text(&o.stderr));
    let o = enforce(&store, &["rm", "-f", &name]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(layers(&store).is_empty(), "{:?}", layers(&store));
    let o = enforce(&store, &["rmi", "bb"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

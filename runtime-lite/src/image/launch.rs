//! What a container of an image runs, with Docker's meaning of the image's configuration:
//! `Entrypoint` + `Cmd` (arguments replace `Cmd`; `--entrypoint` replaces `Entrypoint` and
//! clears `Cmd`), `Env` merged with `-e` (later wins; `PATH` defaulted), `WorkingDir` (default
//! `/`), and `User` (`name`, `uid`, `name:group`, `uid:gid`) resolved through the image's own
//! `/etc/passwd` and `/etc/group`, read beneath its root, never the host's.

use std::io::Read;
use std::path::Path;

pub use enforcer::report::UserFrom;

use super::manifest::RunConfig;
use super::ImageError;

/// Docker's `PATH` for an image that sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the command line asks on top of the image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Asked {
    /// Arguments after `--` (replace `Cmd`).
    pub args: Vec<String>,
    /// `--entrypoint` (replaces `Entrypoint`, clears `Cmd`); `Some("")` clears it.
    pub entrypoint: Option<String>,
    /// `-e NAME=value` (and `NAME` alone: the caller's value), in order.
    pub env: Vec<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--workdir`.
    pub workdir: Option<String>,
}

/// The process a container of the image starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Launch {
    /// Command and arguments.
    pub argv: Vec<String>,
    /// `NAME=value`, in order (no name twice).
    pub env: Vec<(String, String)>,
    /// Absolute working directory.
    pub workdir: String,
    /// User and group ids, and the supplementary groups the image's `/etc/group` gives;
    /// `None` where the profile decides (or nobody: root).
    pub user: Option<ImageUser>,
    /// Who decided the user.
    pub user_from: UserFrom,
    /// The image's `StopSignal`, checked (`SIGNAME`).
    pub stop_signal: Option<nix::sys::signal::Signal>,
    /// What of the configuration is not followed, and why (said on stderr).
    pub notes: Vec<String>,
}

/// A signal as Docker takes one: `SIGTERM`, `TERM` or `15`.
pub fn parse_signal(s: &str) -> Option<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n).ok();
    }
    let upper = s.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    nix::sys::signal::Signal::from_str(&name).ok()
}

/// A user as the image names it, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageUser {
    /// As written (`nobody`, `1000:1000`).
    pub spec: String,
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
    /// Supplementary groups, as Docker sets them: the primary group, and for a user named
    /// without a group, the groups whose members in `/etc/group` name it.
    pub groups: Vec<u32>,
    /// Home directory (`/` when the image has no entry).
    pub home: String,
}

/// The process a container of an image of `config`, rooted at `root`, starts when asked
/// `asked` under a profile that names the user (`profile_user`, its uid: the image's `User`
/// gives way to it, `--user` does not) or not; `caller_env` gives `-e NAME` its value.
pub fn launch(
    config: &RunConfig,
    root: &std::os::fd::OwnedFd,
    asked: &Asked,
    profile_user: Option<u32>,
    caller_env: impl Fn(&str) -> Option<String>,
) -> Result<Launch, ImageError> {
    let (entry, cmd) = match &asked.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (config.entrypoint.clone().unwrap_or_default(), config.cmd.clone().unwrap_or_default()),
    };
    let cmd = if asked.args.is_empty() { cmd } else { asked.args.clone() };
    let argv: Vec<String> = entry.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(ImageError::Format {
            what: "the image".into(),
            why: "no command: it has no Entrypoint or Cmd, and none was given (add it after --)".into(),
        });
    }
    let image_user = config.user.clone().filter(|u| !u.is_empty());
    let (spec, user_from) = match (&asked.user, profile_user, image_user) {
        (Some(u), _, _) => (Some(u.clone()), UserFrom::CommandLine),
        (None, Some(_), _) => (None, UserFrom::Profile),
        (None, None, Some(u)) => (Some(u), UserFrom::Image),
        (None, None, None) => (Some("0".to_string()), UserFrom::Default),
    };
    let user = spec.map(|s| resolve_user(root, &s)).transpose()?;
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |k: String, v: String| match env.iter_mut().find(|(n, _)| *n == k) {
        Some(e) => e.1 = v,
        None => env.push((k, v)),
    };
    for e in config.env.iter().flatten() {
        let (k, v) = e.split_once('=').unwrap_or((e, ""));
        set(k.to_string(), v.to_string());
    }
    for e in &asked.env {
        match e.split_once('=') {
            Some((k, v)) => set(k.to_string(), v.to_string()),
            None => {
                if let Some(v) = caller_env(e) {
                    set(e.clone(), v);
                }
            }
        }
    }
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.insert(0, ("PATH".into(), DEFAULT_PATH.into()));
    }
    if !env.iter().any(|(k, _)| k == "HOME") {
        // The user's home in the image's /etc/passwd (root's without a user), else `/`, as runc
        // sets it.
        let home = match &user {
            Some(u) => u.home.clone(),
            None => resolve_user(root, &profile_user.unwrap_or(0).to_string())?.home,
        };
        env.push(("HOME".into(), home));
    }
    let workdir = asked.workdir.clone().or_else(|| config.working_dir.clone().filter(|w| !w.is_empty()));
    let workdir = workdir.unwrap_or_else(|| "/".into());
    if !workdir.starts_with('/') {
        return Err(ImageError::Format {
            what: "the working directory".into(),
            why: format!("{workdir} is not absolute"),
        });
    }
    // A signal `enforce stop` cannot send (a real-time one, which the PID-1 shim does not
    // forward either) leaves SIGTERM, said; the image still runs, as with Docker.
    let mut notes = Vec::new();
    let stop_signal = config.stop_signal.as_deref().filter(|s| !s.is_empty()).and_then(|s| {
        let sig = parse_signal(s);
        if sig.is_none() {
            notes.push(format!(
                "the image's StopSignal {s:?} is not one `enforce stop` sends: it sends SIGTERM"
            ));
        }
        sig
    });
    Ok(Launch { argv, env, workdir, user, user_from, stop_signal, notes })
}

/// One of the image's account files (`etc/passwd`, `etc/group`), read beneath its root; empty
/// when it has none.
fn accounts(root: &std::os::fd::OwnedFd, file: &str) -> Result<String, ImageError> {
    match crate::sys::open_in_root(root, Path::new(file), libc::O_RDONLY) {
        Ok(fd) => {
            let mut text = String::new();
            std::fs::File::from(fd)
                .take(4 << 20)
                .read_to_string(&mut text)
                .map_err(|e| ImageError::Read { what: format!("the image's /{file}"), why: e.to_string() })?;
            Ok(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(ImageError::Read { what: format!("the image's /{file}"), why: e.to_string() }),
    }
}

/// `name`, `uid`, `name:group`, `uid:gid` as the image's account files give them.
pub fn resolve_user(root: &std::os::fd::OwnedFd, spec: &str) -> Result<ImageUser, ImageError> {
    let passwd = accounts(root, "etc/passwd")?;
    let group = accounts(root, "etc/group")?;
    let missing = |what: &str, name: &str, file: &str| ImageError::Format {
        what: format!("user {spec}"),
        why: format!("no {what} {name} in the image's /etc/{file}"),
    };
    // passwd: name:x:uid:gid:gecos:home:shell
    let users: Vec<Vec<&str>> =
        passwd.lines().map(|l| l.split(':').collect::<Vec<_>>()).filter(|f| f.len() >= 7).collect();
    let groups: Vec<Vec<&str>> =
        group.lines().map(|l| l.split(':').collect::<Vec<_>>()).filter(|f| f.len() >= 4).collect();
    let (u, g) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entry = match u.parse::<u32>() {
        Ok(uid) => users.iter().find(|f| f[2].parse::<u32>().ok() == Some(uid)),
        Err(_) => Some(users.iter().find(|f| f[0] == u).ok_or_else(|| missing("user", u, "passwd"))?),
    };
    let uid = match u.parse::<u32>() {
        Ok(n) => n,
        Err(_) => entry.and_then(|f| f[2].parse().ok()).ok_or_else(|| missing("user", u, "passwd"))?,
    };
    let gid = match g {
        Some(g) => match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => groups
                .iter()
                .find(|f| f[0] == g)
                .and_then(|f| f[2].parse().ok())
                .ok_or_else(|| missing("group", g, "group"))?,
        },
        None => entry.and_then(|f| f[3].parse().ok()).unwrap_or(0),
    };
    let name = entry.map(|f| f[0]).unwrap_or("");
    // As Docker sets them: the primary group, and for a user named without a group the
    // groups /etc/group lists it in.
    let mut extra = vec![gid];
    if g.is_none() && !name.is_empty() {
        let member = groups.iter().filter(|f| f[3].split(',').any(|m| m == name));
        extra.extend(member.filter_map(|f| f[2].parse::<u32>().ok()));
    }
    extra.sort_unstable();
    extra.dedup();
    let home = entry.map(|f| f[5].to_string()).filter(|h| !h.is_empty()).unwrap_or_else(|| "/".into());
    Ok(ImageUser { spec: spec.to_string(), uid, gid, groups: extra, home })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(passwd: &str, group: &str) -> (tempdir_like::Dir, std::os::fd::OwnedFd) {
        let d = tempdir_like::Dir::new();
        std::fs::create_dir_all(d.0.join("etc")).unwrap();
        std::fs::write(d.0.join("etc/passwd"), passwd).unwrap();
        std::fs::write(d.0.join("etc/group"), group).unwrap();
        let fd = std::fs::File::open(&d.0).unwrap().into();
        (d, fd)
    }

    mod tempdir_like {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "palisade-launch-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::SeqCst)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:App:/home/app:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nstaff:x:50:app,other\napps:x:1001:\nwheel:x:10:app\n";

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_combines_them() {
        let (_d, root) = root_with(PASSWD, GROUP);
        let config = |e: Option<&[&str]>, c: Option<&[&str]>| RunConfig {
            entrypoint: e.map(|v| v.iter().map(|s| s.to_string()).collect()),
            cmd: c.map(|v| v.iter().map(|s| s.to_string()).collect()),
            ..RunConfig::default()
        };
        let argv = |cfg: &RunConfig, asked: Asked| {
            launch(cfg, &root, &asked, None, |_| None).map(|l| l.argv.join(" "))
        };
        let both = config(Some(&["/bin/echo", "e"]), Some(&["c1", "c2"]));
        assert_eq!(argv(&both, Asked::default()).unwrap(), "/bin/echo e c1 c2");
        assert_eq!(
            argv(&both, Asked { args: vec!["a".into()], ..Asked::default() }).unwrap(),
            "/bin/echo e a"
        );
        let e = Asked { entrypoint: Some("/bin/true".into()), ..Asked::default() };
        assert_eq!(argv(&both, e).unwrap(), "/bin/true", "--entrypoint clears Cmd");
        let e = Asked { entrypoint: Some("/bin/ls".into()), args: vec!["/".into()], ..Asked::default() };
        assert_eq!(argv(&both, e).unwrap(), "/bin/ls /");
        assert_eq!(argv(&config(None, Some(&["/bin/sh"])), Asked::default()).unwrap(), "/bin/sh");
        assert_eq!(argv(&config(Some(&["/bin/sh"]), None), Asked::default()).unwrap(), "/bin/sh");
        let none = argv(&config(None, None), Asked::default()).unwrap_err().to_string();
        assert!(none.contains("no command"), "{none}");
    }

    #[test]
    fn env_merges_later_wins_and_path_and_home_default() {
        let (_d, root) = root_with(PASSWD, GROUP);
        let cfg = RunConfig {
            env: Some(vec!["A=1".into(), "B=2".into()]),
            user: Some("app".into()),
            ..RunConfig::default()
        };
        let asked = Asked {
            args: vec!["x".into()],
            env: vec!["B=3".into(), "C".into(), "D".into()],
            ..Asked::default()
        };
        let l = launch(&cfg, &root, &asked, None, |n| (n == "C").then(|| "from caller".to_string())).unwrap();
        let env: Vec<String> = l.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            env,
            [
                "PATH=".to_string() + DEFAULT_PATH,
                "A=1".into(),
                "B=3".into(),
                "C=from caller".into(),
                "HOME=/home/app".into()
            ]
        );
        assert_eq!(l.workdir, "/");
    }

    #[test]
    fn users_resolve_through_the_images_own_accounts() {
        let (_d, root) = root_with(PASSWD, GROUP);
        let u = resolve_user(&root, "app").unwrap();
        assert_eq!(
            (u.uid, u.gid, u.groups.clone(), u.home.as_str()),
            (1000, 1001, vec![10, 50, 1001], "/home/app")
        );
        let u = resolve_user(&root, "app:staff").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 50));
        let u = resolve_user(&root, "1000:7").unwrap();
        assert_eq!((u.uid, u.gid), (1000, 7));
        let u = resolve_user(&root, "4242").unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (4242, 0, "/"));
        let e = resolve_user(&root, "ghost").unwrap_err().to_string();
        assert!(e.contains("no user ghost in the image's /etc/passwd"), "{e}");
        let e = resolve_user(&root, "app:ghosts").unwrap_err().to_string();
        assert!(e.contains("no group ghosts in the image's /etc/group"), "{e}");
    }

    /// `--user` wins; then the profile's `process.user`; then the image's `User`; then root.
    #[test]
    fn the_command_line_then_the_profile_then_the_image_decide_the_user() {
        let (_d, root) = root_with(PASSWD, GROUP);
        let cfg = RunConfig { cmd: Some(vec!["x".into()]), user: Some("app".into()), ..RunConfig::default() };
        let who = |cfg: &RunConfig, user: Option<&str>, profile: bool| {
            let asked = Asked { user: user.map(String::from), ..Asked::default() };
            let l = launch(cfg, &root, &asked, profile.then_some(7), |_| None).unwrap();
            (l.user.map(|u| (u.uid, u.gid, u.groups)), l.user_from)
        };
        assert_eq!(who(&cfg, Some("0"), true), (Some((0, 0, vec![0])), UserFrom::CommandLine));
        assert_eq!(who(&cfg, None, true), (None, UserFrom::Profile));
        assert_eq!(who(&cfg, None, false), (Some((1000, 1001, vec![10, 50, 1001])), UserFrom::Image));
        assert_eq!(who(&cfg, Some("app:staff"), false), (Some((1000, 50, vec![50])), UserFrom::CommandLine));
        let bare = RunConfig { cmd: Some(vec!["x".into()]), ..RunConfig::default() };
        assert_eq!(who(&bare, None, false), (Some((0, 0, vec![0])), UserFrom::Default));
    }
}

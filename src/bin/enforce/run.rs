//! `enforce run`: compile (through the compile cache), then let `runtime_lite::start` run it.

use std::path::PathBuf;
use std::process::ExitCode;

use enforcer::{CompiledPolicy, ReportTo};
use runtime_lite::{Request, Started};

use policy::frontend::overrides::{self, absolute, Allow, Overrides};
use policy::vocab::NetworkMode;

use crate::args::{Network, ProfileFlags, RunArgs};
use crate::fail;
use crate::images::ImageRun;
use runtime_lite::image::launch::UserFrom;

/// Compile `profile` for this machine (tables only for its arch family: enforce runs nowhere
/// else), through the compile cache unless `use_cache` is false; the cache keeps this
/// machine's seccomp program with the policy.
pub fn compile(profile: &str, use_cache: bool) -> Result<CompiledPolicy, String> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    match enforcer::cache::compile(profile, &opts, use_cache) {
        Ok((c, note)) => {
            if let Some(n) = note {
                enforcer::say!("enforce: {n}");
            }
            Ok(c)
        }
        Err(e) => Err(format!("cannot compile {profile}:\n{e}")),
    }
}

/// The flags as typed overrides (paths made absolute against the working directory).
fn overrides(f: &ProfileFlags) -> Result<Overrides, String> {
    let cwd = std::env::current_dir()
        .map_err(|e| format!("the working directory: {}", policy::error::io_reason(&e)))?;
    let mut env = Vec::new();
    for file in &f.env_file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("--env-file {}: {}", file.display(), policy::error::io_reason(&e)))?;
        env.extend(overrides::env_file(&text, &file.display().to_string())?);
    }
    for e in &f.env {
        env.extend(overrides::env_var(e).map_err(|m| format!("-e {m}"))?);
    }
    let mut allow = Vec::new();
    for (paths, access) in
        [(&f.allow_ro, "read"), (&f.allow_rw, "read, write"), (&f.allow_exec, "read, execute")]
    {
        allow.extend(paths.iter().map(|p| Allow { path: absolute(p, &cwd), access }));
    }
    let volumes = f.volume.iter().map(|v| overrides::volume(v, &cwd)).collect::<Result<_, _>>()?;
    Ok(Overrides {
        user: f.user.clone(),
        env,
        workdir: f.workdir.as_ref().map(|w| absolute(w, &cwd)),
        allow,
        bind_tcp: f.bind_tcp.clone(),
        connect_tcp: f.connect_tcp.clone(),
        volumes,
        tmpfs: f.tmpfs.clone(),
        read_only: f.read_only,
        network: f.network.map(|n| match n {
            Network::None => NetworkMode::None,
            Network::Private => NetworkMode::Private,
            Network::Host => NetworkMode::Host,
        }),
        publish: f.publish.clone(),
        memory: f.memory.clone(),
        pids: f.pids_limit,
        cpus: f.cpus,
        hostname: f.hostname.clone(),
    })
}

/// Compile the flags' layer over the profile, through the compile cache unless `use_cache` is
/// false (an image's run always has such a layer: its command's environment and directory).
fn compile_layer(layer: &str, base: &str, use_cache: bool) -> Result<CompiledPolicy, String> {
    let opts = policy::CompileOptions { tables_for: enforcer::plan::host_arch(), ..Default::default() };
    let cwd = std::env::current_dir().ok();
    enforcer::cache::compile_layer(overrides::FILE, layer, base, cwd.as_deref(), &opts, use_cache)
        .map_err(|e| format!("cannot compile the flags over the profile:\n{e}"))
}

/// The run's policy, and the image it runs, if any.
type Compiled = (CompiledPolicy, Option<ImageRun>);

/// The profile with the flags over it, compiled once (through the cache) in the common cases;
/// for an image (`--image`, or the profile's `isolation.image`) its configuration is part of
/// the flags. `None`: `--print-profile` printed the layer.
fn compiled(a: &mut RunArgs) -> Result<Option<Compiled>, (i32, String)> {
    // A layer that carries `-e` or `--env-file` values (secrets, often) is never cached.
    let cache = !a.no_cache && a.flags.env.is_empty() && a.flags.env_file.is_empty();
    // `print`: print the layer instead of compiling it.
    let layered = |a: &RunArgs, print: bool| -> Result<Option<CompiledPolicy>, (i32, String)> {
        let o = overrides(&a.flags).map_err(|e| (125, e))?;
        if print {
            enforcer::out!("{}", o.layer(&a.profile));
            return Ok(None);
        }
        let c = match o.is_empty() {
            true => compile(&a.profile, !a.no_cache),
            false => compile_layer(&o.layer(&a.profile), &a.profile, cache),
        };
        c.map(Some).map_err(|e| (125, e))
    };
    // Without --image, the profile may name one.
    let (reference, first) = match a.image.clone() {
        Some(r) => (r, None),
        None => {
            let Some(c) = layered(a, a.print_profile && a.rootfs.is_some())? else { return Ok(None) };
            match c.isolation().image.clone().filter(|_| a.rootfs.is_none()) {
                Some(r) => (r, Some(c)),
                None if a.entrypoint.is_some() => {
                    return Err((125, "--entrypoint replaces an image's Entrypoint: give --image, or a profile with isolation.image".into()))
                }
                None if a.print_profile => return layered(a, true).map(|_| None),
                None => return Ok(Some((c, None))),
            }
        }
    };
    // The user a profile layer (not the flags) names wins over the image's `User`. Not known
    // before the compile of an `--image` run: taken as none, and found again without the
    // image's settings in the rare case that the profile names one and the image a `User`.
    // In the container the workload is root of its user namespace: `user: caller` is root.
    let named = |c: &CompiledPolicy| {
        let p = c.process();
        p.user_set_by.iter().any(|f| f != overrides::FILE).then(|| p.user.ids((0, 0)))
    };
    let mut profile_user = first.as_ref().and_then(named);
    let original = (a.cmd.clone(), a.flags.clone());
    loop {
        let image = crate::images::for_run(a, &reference, profile_user)?;
        let Some(c) = layered(a, a.print_profile)? else { return Ok(None) };
        let from = image.report.user_from;
        if let (UserFrom::Image | UserFrom::Default, None, Some(_)) = (from, profile_user, named(&c)) {
            (a.cmd, a.flags) = original.clone();
            a.rootfs = None;
            let Some(profile) = layered(a, false)? else { return Ok(None) };
            profile_user = named(&profile);
            continue;
        }
        crate::images::non_root(&c, &image)?;
        return Ok(Some((c, Some(image))));
    }
}

pub fn run(mut a: RunArgs) -> ExitCode {
    let (compiled, image) = match compiled(&mut a) {
        Ok(Some(c)) => c,
        Ok(None) => return ExitCode::SUCCESS,
        Err((code, e)) => return fail(code, e),
    };
    if image.is_none() && a.cmd.is_empty() {
        return fail(
            2,
            "no command: give one (after --), or run an image (--image, or a profile's isolation.image)",
        );
    }
    for w in compiled.warnings() {
        enforcer::say!("{w}");
    }
    let report = match a.report.as_deref() {
        None => ReportTo::None,
        Some("-") => ReportTo::Stderr,
        Some(f) => ReportTo::File(PathBuf::from(f)),
    };
    // Made last: `start` removes it with the container.
    let layer = match image.as_ref().filter(|_| !a.dry_run) {
        Some(i) => match i.store.new_layer(a.name.as_ref().map(|n| n.as_str()), &i.report.id) {
            Ok(dir) => Some(dir),
            Err(e) => return fail(125, e),
        },
        None => None,
    };
    let request = Request {
        profile: a.profile,
        compiled,
        argv: a.cmd,
        rootfs: a.rootfs,
        layer,
        image: image.map(|i| i.report),
        report,
        best_effort: a.best_effort,
        name: a.name,
        detach: a.detach,
        dry_run: a.dry_run,
        auto_remove: a.rm,
        tty: a.tty,
        interactive: a.interactive,
        explain: a.explain,
    };
    match runtime_lite::start(request) {
        Ok(Started::Exited(code)) => ExitCode::from(code.clamp(0, 255) as u8),
        Ok(Started::Detached(name)) => {
            enforcer::out!("{name}\n");
            ExitCode::SUCCESS
        }
        Ok(Started::Planned(report)) => {
            enforcer::out!("{}", report.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => fail(e.exit_code(), e),
    }
}

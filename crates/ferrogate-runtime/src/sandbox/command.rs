//! ECS container definition → process: argv, environment, working directory.

use crate::image::ImageConfig;

/// Default PATH when neither image nor task sets one (Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// ECS `entryPoint`/`command` over the image's `Entrypoint`/`Cmd`, with
/// Docker's merge rule (moby `daemon/commit.go: merge`): an explicit
/// entrypoint discards the image's Cmd; otherwise the image entrypoint is
/// kept and `command` replaces Cmd.
pub fn merge_argv(
    image: &ImageConfig,
    entry_point: Option<&[String]>,
    command: Option<&[String]>,
) -> Result<Vec<String>, String> {
    let cmd_user = command.filter(|c| !c.is_empty());
    let argv: Vec<String> = match entry_point.filter(|e| !e.is_empty()) {
        Some(ep) => ep
            .iter()
            .chain(cmd_user.unwrap_or(&[]).iter())
            .cloned()
            .collect(),
        None => {
            let ep = image.entrypoint.as_deref().unwrap_or(&[]);
            let cmd = cmd_user.unwrap_or_else(|| image.cmd.as_deref().unwrap_or(&[]));
            ep.iter().chain(cmd.iter()).cloned().collect()
        }
    };
    if argv.is_empty() {
        return Err("no command specified".into());
    }
    Ok(argv)
}

/// Image `Env`, overridden key by key by the container's `environment`;
/// `PATH` and `HOSTNAME` defaulted. Order: image order, then new keys.
pub fn merge_env(
    image: &ImageConfig,
    environment: &[(String, String)],
    hostname: &str,
) -> Vec<String> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: &str| match out.iter_mut().find(|(ek, _)| ek == k) {
        Some(e) => e.1 = v.to_owned(),
        None => out.push((k.to_owned(), v.to_owned())),
    };
    set("PATH", DEFAULT_PATH);
    set("HOSTNAME", hostname);
    for kv in image.env.as_deref().unwrap_or(&[]) {
        if let Some((k, v)) = kv.split_once('=') {
            set(k, v);
        }
    }
    for (k, v) in environment {
        set(k, v);
    }
    out.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// `workingDirectory`, else the image's `WorkingDir`, else `/`.
pub fn working_dir(image: &ImageConfig, working_directory: Option<&str>) -> String {
    working_directory
        .filter(|w| !w.is_empty())
        .or(image.working_dir.as_deref().filter(|w| !w.is_empty()))
        .unwrap_or("/")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(x: &[&str]) -> Vec<String> {
        x.iter().map(|s| s.to_string()).collect()
    }
    fn img(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ImageConfig {
        ImageConfig {
            entrypoint: ep.map(v),
            cmd: cmd.map(v),
            ..ImageConfig::default()
        }
    }

    #[test]
    fn ecs_entrypoint_and_command_semantics() {
        let i = img(Some(&["/ep"]), Some(&["default"]));
        assert_eq!(merge_argv(&i, None, None).unwrap(), v(&["/ep", "default"]));
        assert_eq!(
            merge_argv(&i, None, Some(&v(&["x"]))).unwrap(),
            v(&["/ep", "x"])
        );
        assert_eq!(
            merge_argv(&i, Some(&v(&["/new"])), None).unwrap(),
            v(&["/new"])
        );
        assert_eq!(
            merge_argv(&i, Some(&v(&["/new"])), Some(&v(&["a"]))).unwrap(),
            v(&["/new", "a"])
        );
        let sh = img(None, Some(&["sh"]));
        assert_eq!(
            merge_argv(&sh, None, Some(&v(&["echo", "hi"]))).unwrap(),
            v(&["echo", "hi"])
        );
        assert!(merge_argv(&img(None, None), None, None).is_err());
        assert!(merge_argv(&img(None, None), Some(&[]), Some(&[])).is_err());
    }

    #[test]
    fn env_overrides_and_defaults() {
        let i = ImageConfig {
            env: Some(v(&["PATH=/opt/bin", "A=1", "B=2"])),
            ..ImageConfig::default()
        };
        let e = merge_env(
            &i,
            &[("B".into(), "3".into()), ("C".into(), "x=y".into())],
            "h",
        );
        assert_eq!(
            e,
            v(&["PATH=/opt/bin", "HOSTNAME=h", "A=1", "B=3", "C=x=y"])
        );
        let e = merge_env(&ImageConfig::default(), &[], "h");
        assert_eq!(e[0], format!("PATH={DEFAULT_PATH}"));
    }

    #[test]
    fn workdir_precedence() {
        let i = ImageConfig {
            working_dir: Some("/img".into()),
            ..ImageConfig::default()
        };
        assert_eq!(working_dir(&i, Some("/task")), "/task");
        assert_eq!(working_dir(&i, None), "/img");
        assert_eq!(working_dir(&ImageConfig::default(), None), "/");
    }
}

//! `spec.runtimeArgs`: the `docker run` flags a Container may add to its create
//! request, e.g. `[--shm-size, 256m, --cap-add=NET_ADMIN]`. Only flags that change how
//! one container runs are accepted; anything that would fight kaspire (ports, networks,
//! names, restart policies) is refused with the field that replaces it.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig};

/// The flags kaspire understands, with their short forms, and whether they take a value.
const FLAGS: &[(&str, Option<&str>, bool)] = &[
    ("--add-host", None, true),
    ("--cap-add", None, true),
    ("--cap-drop", None, true),
    ("--cpus", None, true),
    ("--dns", None, true),
    ("--env", Some("-e"), true),
    ("--hostname", Some("-h"), true),
    ("--init", None, false),
    ("--label", Some("-l"), true),
    ("--memory", Some("-m"), true),
    ("--privileged", None, false),
    ("--read-only", None, false),
    ("--security-opt", None, true),
    ("--shm-size", None, true),
    ("--tmpfs", None, true),
    ("--user", Some("-u"), true),
    ("--workdir", Some("-w"), true),
];

/// Flags with a field of their own in the spec.
const USE_THE_SPEC: &[(&str, &str)] = &[
    ("-p", "spec.endpoints"),
    ("--publish", "spec.endpoints"),
    ("--network", "spec.network"),
    ("--net", "spec.network"),
    ("--name", "spec.containerName"),
    ("-v", "spec.volumes"),
    ("--volume", "spec.volumes"),
    ("--mount", "spec.volumes"),
    ("--entrypoint", "spec.entrypoint"),
    ("--restart", "spec.restartPolicy"),
    ("--rm", "spec.lifetime"),
    ("-d", "(nothing: kaspire always runs containers detached)"),
    (
        "--detach",
        "(nothing: kaspire always runs containers detached)",
    ),
];

/// Applies `args` to the create request; the error names the entry and what to do.
pub fn apply(args: &[String], body: &mut ContainerCreateBody) -> Result<(), String> {
    let host = body.host_config.get_or_insert_with(HostConfig::default);
    let mut i = 0;
    while i < args.len() {
        let field = format!("spec.runtimeArgs[{i}]");
        let (flag, inline) = match args[i].split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (args[i].as_str(), None),
        };
        if let Some((_, instead)) = USE_THE_SPEC.iter().find(|(f, _)| *f == flag) {
            return Err(format!(
                "{field}: {flag} is not allowed here; use {instead} instead"
            ));
        }
        let Some(&(name, _, takes_value)) = FLAGS
            .iter()
            .find(|(long, short, _)| *long == flag || *short == Some(flag))
        else {
            let known: Vec<&str> = FLAGS.iter().map(|(f, _, _)| *f).collect();
            return Err(format!(
                "{field}: unknown option {:?}; kaspire understands {}",
                args[i],
                known.join(", ")
            ));
        };
        let value = if takes_value {
            match inline {
                Some(value) => value,
                None => {
                    i += 1;
                    args.get(i).cloned().ok_or_else(|| {
                        format!("{field}: {flag} needs a value, e.g. [{flag}, VALUE]")
                    })?
                }
            }
        } else {
            String::new()
        };
        let bad = |why: &str| format!("{field}: {flag} {value:?}: {why}");
        match name {
            "--add-host" => host.extra_hosts.get_or_insert_default().push(value.clone()),
            "--cap-add" => host.cap_add.get_or_insert_default().push(value.clone()),
            "--cap-drop" => host.cap_drop.get_or_insert_default().push(value.clone()),
            "--cpus" => {
                let cpus: f64 = value
                    .parse()
                    .map_err(|_| bad("give a number of CPUs, e.g. 1.5"))?;
                host.nano_cpus = Some((cpus * 1e9) as i64);
            }
            "--dns" => host.dns.get_or_insert_default().push(value.clone()),
            "--env" => body.env.get_or_insert_default().push(value.clone()),
            "--hostname" => body.hostname = Some(value.clone()),
            "--init" => host.init = Some(true),
            "--label" => {
                let (k, v) = value.split_once('=').unwrap_or((&value, ""));
                body.labels
                    .get_or_insert_with(HashMap::new)
                    .insert(k.to_owned(), v.to_owned());
            }
            "--memory" => host.memory = Some(size(&value).ok_or_else(|| bad(SIZE_HINT))?),
            "--privileged" => host.privileged = Some(true),
            "--read-only" => host.readonly_rootfs = Some(true),
            "--security-opt" => host
                .security_opt
                .get_or_insert_default()
                .push(value.clone()),
            "--shm-size" => host.shm_size = Some(size(&value).ok_or_else(|| bad(SIZE_HINT))?),
            "--tmpfs" => {
                let (path, options) = value.split_once(':').unwrap_or((&value, ""));
                host.tmpfs
                    .get_or_insert_with(HashMap::new)
                    .insert(path.to_owned(), options.to_owned());
            }
            "--user" => body.user = Some(value.clone()),
            "--workdir" => body.working_dir = Some(value.clone()),
            _ => unreachable!("every flag in FLAGS is handled"),
        }
        i += 1;
    }
    Ok(())
}

const SIZE_HINT: &str = "give a size such as 256m, 1g or 65536 (bytes)";

/// `256m`, `1g`, `512k`, `100b` or a plain number of bytes.
fn size(text: &str) -> Option<i64> {
    let text = text.trim().to_ascii_lowercase();
    let (digits, unit) = match text.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => text.split_at(i),
        None => (text.as_str(), ""),
    };
    let number: f64 = digits.parse().ok()?;
    let factor: f64 = match unit.trim_end_matches('b') {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    (number >= 0.0).then_some((number * factor) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn known_flags_fill_the_request_in_both_spellings() {
        let mut body = ContainerCreateBody::default();
        apply(
            &args(&[
                "--shm-size",
                "256m",
                "--cap-add=NET_ADMIN",
                "-e",
                "A=1",
                "--init",
                "--label=team=web",
                "--cpus",
                "0.5",
            ]),
            &mut body,
        )
        .unwrap();
        let host = body.host_config.unwrap();
        assert_eq!(host.shm_size, Some(256 * 1024 * 1024));
        assert_eq!(host.cap_add, Some(vec!["NET_ADMIN".to_owned()]));
        assert_eq!(host.init, Some(true));
        assert_eq!(host.nano_cpus, Some(500_000_000));
        assert_eq!(body.env, Some(vec!["A=1".to_owned()]));
        assert_eq!(body.labels.unwrap()["team"], "web");
    }

    #[test]
    fn unknown_and_conflicting_flags_name_the_entry_and_the_fix() {
        let mut body = ContainerCreateBody::default();
        let err = apply(&args(&["--init", "--frobnicate"]), &mut body).unwrap_err();
        assert!(
            err.starts_with("spec.runtimeArgs[1]: unknown option \"--frobnicate\""),
            "{err}"
        );
        assert!(err.contains("--shm-size"), "{err}");
        let err = apply(&args(&["-p", "80:80"]), &mut body).unwrap_err();
        assert!(err.contains("use spec.endpoints instead"), "{err}");
        let err = apply(&args(&["--memory"]), &mut body).unwrap_err();
        assert!(err.contains("needs a value"), "{err}");
        let err = apply(&args(&["--memory", "lots"]), &mut body).unwrap_err();
        assert!(err.contains("give a size"), "{err}");
    }

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(size("1g"), Some(1 << 30));
        assert_eq!(size("512k"), Some(512 * 1024));
        assert_eq!(size("64mb"), Some(64 << 20));
        assert_eq!(size("100"), Some(100));
        assert_eq!(size("ten"), None);
    }
}

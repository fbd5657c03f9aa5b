//! Signals by name, as `spec.shutdown.signal` spells them (`SIGTERM`, `TERM`, `sigterm`).

pub use rustix::process::Signal;

/// Names accepted by [`signal_from_name`], in the order they are listed in errors.
const SIGNALS: &[(&str, Signal)] = &[
    ("SIGTERM", Signal::TERM),
    ("SIGINT", Signal::INT),
    ("SIGKILL", Signal::KILL),
    ("SIGHUP", Signal::HUP),
    ("SIGQUIT", Signal::QUIT),
    ("SIGUSR1", Signal::USR1),
    ("SIGUSR2", Signal::USR2),
    ("SIGABRT", Signal::ABORT),
    ("SIGALRM", Signal::ALARM),
    ("SIGPIPE", Signal::PIPE),
    ("SIGWINCH", Signal::WINCH),
    ("SIGCONT", Signal::CONT),
    ("SIGSTOP", Signal::STOP),
    ("SIGTSTP", Signal::TSTP),
];

/// A signal name kaspire does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown signal {name:?}: use one of {}",
    SIGNALS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
)]
pub struct UnknownSignal {
    /// The name as given.
    pub name: String,
}

/// Parses `SIGTERM`, `TERM` or `sigterm` (any case, `SIG` prefix optional).
pub fn signal_from_name(name: &str) -> Result<Signal, UnknownSignal> {
    let upper = name.trim().to_ascii_uppercase();
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    SIGNALS
        .iter()
        .find(|(n, _)| *n == full)
        .map(|(_, s)| *s)
        .ok_or_else(|| UnknownSignal {
            name: name.to_owned(),
        })
}

/// The conventional name of `signal` (`SIGTERM`), or its number when it has none here.
pub fn signal_name(signal: i32) -> String {
    SIGNALS
        .iter()
        .find(|(_, s)| s.as_raw() == signal)
        .map_or_else(|| format!("signal {signal}"), |(n, _)| (*n).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_with_or_without_prefix_in_any_case() {
        assert_eq!(signal_from_name("SIGTERM"), Ok(Signal::TERM));
        assert_eq!(signal_from_name("int"), Ok(Signal::INT));
        assert_eq!(signal_from_name(" SigKill "), Ok(Signal::KILL));
        assert_eq!(signal_name(Signal::HUP.as_raw()), "SIGHUP");
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = signal_from_name("SIGTERMINATE").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("\"SIGTERMINATE\""), "{msg}");
        assert!(msg.contains("SIGTERM, SIGINT, SIGKILL"), "{msg}");
    }
}

//! dotenv-style `envFile` parsing: `KEY=VALUE` lines, `#` comments, an optional
//! `export ` prefix, and single (literal) or double (with `\n \t \" \\` escapes)
//! quotes. Values do not span lines and `${VAR}` is not expanded.

use std::path::Path;

/// Why an env file line was rejected; the caller adds the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it, lowercase.
    pub reason: String,
}

/// Reads `path` and parses it; see [`parse`].
pub(crate) fn read(path: &Path) -> Result<Vec<(String, String)>, super::SpawnError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| super::SpawnError::EnvFileUnreadable {
            path: path.to_owned(),
            source,
        })?;
    parse(&text).map_err(|e| super::SpawnError::EnvFileMalformed {
        path: path.to_owned(),
        line: e.line,
        reason: e.reason,
    })
}

/// Parses dotenv text into ordered `(key, value)` pairs; a later key wins when applied.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, LineError> {
    let mut vars = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let err = |reason: String| LineError {
            line: i + 1,
            reason,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            return Err(err(format!("expected KEY=VALUE, found {line:?}")));
        };
        let key = key.trim();
        if !is_valid_key(key) {
            return Err(err(format!(
                "invalid variable name {key:?}: use letters, digits and '_', not starting with a digit"
            )));
        }
        vars.push((key.to_owned(), parse_value(value.trim()).map_err(err)?));
    }
    Ok(vars)
}

fn is_valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn parse_value(v: &str) -> Result<String, String> {
    let Some(quote) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else {
        // Unquoted: an inline comment starts at a `#` preceded by whitespace.
        let end = v
            .char_indices()
            .find(|&(i, c)| c == '#' && v[..i].ends_with(char::is_whitespace))
            .map_or(v.len(), |(i, _)| i);
        return Ok(v[..end].trim_end().to_owned());
    };
    let mut out = String::new();
    let mut chars = v[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                let rest = v[1 + i + 1..].trim_start();
                if !rest.is_empty() && !rest.starts_with('#') {
                    return Err(format!("unexpected text after closing quote: {rest:?}"));
                }
                return Ok(out);
            }
            '\\' if quote == '"' => match chars.next().map(|(_, c)| c) {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('r') => out.push('\r'),
                Some(c @ ('"' | '\\' | '$')) => out.push(c),
                Some(c) => {
                    out.push('\\');
                    out.push(c);
                }
                None => break,
            },
            c => out.push(c),
        }
    }
    Err(format!(
        "missing closing {quote} (values cannot span lines)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn dotenv_forms_parse() {
        let text = "# comment\n\nA=1\nexport B = two words # note\nC=\"q \\\"x\\\"\\n\" # c\nD='lit $X \\n'\nE=\nF=a#b\n";
        assert_eq!(
            parse(text).unwrap(),
            vec![
                kv("A", "1"),
                kv("B", "two words"),
                kv("C", "q \"x\"\n"),
                kv("D", "lit $X \\n"),
                kv("E", ""),
                kv("F", "a#b"),
            ]
        );
    }

    #[test]
    fn malformed_lines_name_their_number() {
        assert_eq!(parse("A=1\nnonsense\n").unwrap_err().line, 2);
        assert_eq!(parse("A=1\n\n1X=2\n").unwrap_err().line, 3);
        let e = parse("A=\"open\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("closing"), "{}", e.reason);
        assert!(parse("A='x' y\n").is_err());
    }
}

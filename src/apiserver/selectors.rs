//! Label and field selectors for list and watch requests (`labelSelector=`, `fieldSelector=`),
//! parsed and matched the way kube-apiserver does, with its error wording so kubectl prints
//! the familiar messages.

use serde_json::{Map, Value};

/// A parsed label selector: every requirement must hold for an object to match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<LabelRequirement>,
}

#[derive(Debug, Clone, PartialEq)]
struct LabelRequirement {
    key: String,
    op: LabelOp,
    /// One value for `=`, `!=`, `>`, `<`; one or more for `in`/`notin`; none otherwise.
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LabelOp {
    Exists,
    DoesNotExist,
    Equals,
    NotEquals,
    In,
    NotIn,
    GreaterThan,
    LessThan,
}

impl LabelSelector {
    /// Parses the Kubernetes label selector syntax: `a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`, comma-separated, whitespace tolerant.
    /// Also accepts `a>1` and `a<1` (integer comparisons), as `labels.Parse` does.
    pub fn parse(s: &str) -> Result<Self, String> {
        let tokens = lex(s);
        Parser { tokens, pos: 0 }
            .parse()
            .map(|requirements| LabelSelector { requirements })
    }

    /// Whether `labels` (an object's `metadata.labels`, absent = no labels) satisfy every requirement.
    pub fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// True when the selector has no requirements and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
}

impl LabelRequirement {
    fn matches(&self, labels: Option<&Map<String, Value>>) -> bool {
        let value = labels.and_then(|l| l.get(&self.key)).map(value_text);
        let in_values = |v: &String| self.values.iter().any(|x| x == v);
        match self.op {
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::Equals | LabelOp::In => value.as_ref().is_some_and(in_values),
            LabelOp::NotEquals | LabelOp::NotIn => !value.as_ref().is_some_and(in_values),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                // The parser guarantees an integer; a non-integer label simply does not match.
                let (Some(Ok(have)), Ok(want)) = (
                    value.map(|v| v.parse::<i64>()),
                    self.values[0].parse::<i64>(),
                ) else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Identifier(String),
    In,
    NotIn,
    /// `!` before a key: the key must be absent.
    Not,
    NotEquals,
    Equals,
    DoubleEquals,
    GreaterThan,
    LessThan,
    OpenParen,
    CloseParen,
    Comma,
    End,
    /// A run of symbols that is no operator, e.g. `=!=`'s tail.
    Error(String),
}

impl Token {
    /// The text Kubernetes shows for the token in `found '...'` messages.
    fn literal(&self) -> &str {
        match self {
            Token::Identifier(s) | Token::Error(s) => s,
            Token::In => "in",
            Token::NotIn => "notin",
            Token::Not => "!",
            Token::NotEquals => "!=",
            Token::Equals => "=",
            Token::DoubleEquals => "==",
            Token::GreaterThan => ">",
            Token::LessThan => "<",
            Token::OpenParen => "(",
            Token::CloseParen => ")",
            Token::Comma => ",",
            Token::End => "",
        }
    }
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | '(' | ')' | ',' | '>' | '<')
}

fn symbol(s: &str) -> Option<Token> {
    Some(match s {
        "!" => Token::Not,
        "!=" => Token::NotEquals,
        "=" => Token::Equals,
        "==" => Token::DoubleEquals,
        ">" => Token::GreaterThan,
        "<" => Token::LessThan,
        "(" => Token::OpenParen,
        ")" => Token::CloseParen,
        "," => Token::Comma,
        _ => return None,
    })
}

/// Splits a selector into tokens, always ending with [`Token::End`]. Symbols are matched
/// greedily (`!=` over `!`), like the Kubernetes lexer, so `a=!b` lexes as `a`, `=`, `!`, `b`.
fn lex(s: &str) -> Vec<Token> {
    let chars: Vec<char> = s.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if is_special(c) {
            let mut buffer = String::new();
            let mut last: Option<(Token, usize)> = None;
            let mut j = i;
            while j < chars.len() && is_special(chars[j]) {
                buffer.push(chars[j]);
                j += 1;
                match symbol(&buffer) {
                    Some(tok) => last = Some((tok, j)),
                    None if last.is_some() => break,
                    None => {}
                }
            }
            match last {
                Some((tok, end)) => {
                    tokens.push(tok);
                    i = end;
                }
                None => {
                    tokens.push(Token::Error(buffer));
                    i = j;
                }
            }
        } else {
            let start = i;
            while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(match word.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier(word),
            });
        }
    }
    tokens.push(Token::End);
    tokens
}

/// Recursive-descent parser mirroring `k8s.io/apimachinery/pkg/labels`: in value position
/// the keywords `in`/`notin` are ordinary identifiers, so `in in (in)` is valid.
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self, values: bool) -> Token {
        let tok = self.tokens.get(self.pos).cloned().unwrap_or(Token::End);
        if values { as_value(tok) } else { tok }
    }

    fn next(&mut self, values: bool) -> Token {
        let tok = self.peek(values);
        self.pos = (self.pos + 1).min(self.tokens.len());
        tok
    }

    fn parse(&mut self) -> Result<Vec<LabelRequirement>, String> {
        let mut requirements = Vec::new();
        loop {
            match self.peek(true) {
                Token::Identifier(_) | Token::Not => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    requirements.push(r);
                    match self.next(true) {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let after = self.peek(true);
                            if !matches!(after, Token::Identifier(_) | Token::Not) {
                                return Err(format!(
                                    "found '{}', expected: identifier after ','",
                                    after.literal()
                                ));
                            }
                        }
                        other => {
                            return Err(format!(
                                "found '{}', expected: ',' or 'end of string'",
                                other.literal()
                            ));
                        }
                    }
                }
                Token::End => return Ok(requirements),
                other => {
                    return Err(format!(
                        "found '{}', expected: !, identifier, or 'end of string'",
                        other.literal()
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<LabelRequirement, String> {
        let mut negated = false;
        let mut tok = self.next(true);
        if tok == Token::Not {
            negated = true;
            tok = self.next(true);
        }
        let Token::Identifier(key) = tok else {
            return Err(format!("found '{}', expected: identifier", tok.literal()));
        };
        validate_label_key(&key).map_err(|e| format!("key: Invalid value: {key:?}: {e}"))?;
        if negated || matches!(self.peek(true), Token::End | Token::Comma) {
            let op = if negated {
                LabelOp::DoesNotExist
            } else {
                LabelOp::Exists
            };
            return Ok(LabelRequirement {
                key,
                op,
                values: Vec::new(),
            });
        }

        let op = match self.next(false) {
            Token::In => LabelOp::In,
            Token::NotIn => LabelOp::NotIn,
            Token::Equals | Token::DoubleEquals => LabelOp::Equals,
            Token::NotEquals => LabelOp::NotEquals,
            Token::GreaterThan => LabelOp::GreaterThan,
            Token::LessThan => LabelOp::LessThan,
            other => {
                return Err(format!(
                    "found '{}', expected: in, notin, =, ==, !=, gt, lt",
                    other.literal()
                ));
            }
        };
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.set_values()?,
            _ => vec![self.exact_value()?],
        };
        for (i, value) in values.iter().enumerate() {
            validate_label_value(value)
                .map_err(|e| format!("values[{i}][{key}]: Invalid value: {value:?}: {e}"))?;
        }
        if matches!(op, LabelOp::GreaterThan | LabelOp::LessThan)
            && values[0].parse::<i64>().is_err()
        {
            return Err(format!(
                "values[0]: Invalid value: {:?}: for 'Gt', 'Lt' operators, the value must be an integer",
                values[0]
            ));
        }
        Ok(LabelRequirement { key, op, values })
    }

    /// The single value after `=`, `!=`, `>` or `<`; nothing before `,` or the end means "".
    fn exact_value(&mut self) -> Result<String, String> {
        if matches!(self.peek(true), Token::End | Token::Comma) {
            return Ok(String::new());
        }
        match self.next(true) {
            Token::Identifier(v) => Ok(v),
            other => Err(format!("found '{}', expected: identifier", other.literal())),
        }
    }

    /// `( v1, v2, ... )`; empty slots (`()`, `(a,)`) stand for the empty value, as in Kubernetes.
    fn set_values(&mut self) -> Result<Vec<String>, String> {
        let open = self.next(true);
        if open != Token::OpenParen {
            return Err(format!("found '{}', expected: '('", open.literal()));
        }
        let mut values: Vec<String> = Vec::new();
        let push = |values: &mut Vec<String>, v: String| {
            if !values.contains(&v) {
                values.push(v);
            }
        };
        match self.peek(true) {
            Token::CloseParen => {
                self.next(true);
                return Ok(vec![String::new()]);
            }
            Token::Identifier(_) | Token::Comma => {}
            other => {
                return Err(format!(
                    "found '{}', expected: ',', ')' or identifier",
                    other.literal()
                ));
            }
        }
        // Alternates value and separator; a separator where a value belongs is an empty value.
        let mut expect_value = true;
        loop {
            match self.next(true) {
                Token::Identifier(v) if expect_value => {
                    push(&mut values, v);
                    expect_value = false;
                }
                Token::Comma => {
                    if expect_value {
                        push(&mut values, String::new());
                    }
                    expect_value = true;
                }
                Token::CloseParen => {
                    if expect_value {
                        push(&mut values, String::new());
                    }
                    return Ok(values);
                }
                other if expect_value => {
                    return Err(format!(
                        "found '{}', expected: ',', or identifier",
                        other.literal()
                    ));
                }
                other => return Err(format!("found '{}', expected: ',' or ')'", other.literal())),
            }
        }
    }
}

/// In value position the keywords are plain words.
fn as_value(tok: Token) -> Token {
    match tok {
        Token::In => Token::Identifier("in".into()),
        Token::NotIn => Token::Identifier("notin".into()),
        other => other,
    }
}

const NAME_RULE: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";

/// Checks a label key as Kubernetes does: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 alphanumerics, `-`, `_`, `.` that starts and ends alphanumeric.
pub fn validate_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split('/').collect::<Vec<_>>()[..] {
        [name] => (None, name),
        [prefix, name] => (Some(prefix), name),
        _ => {
            return Err(format!(
                "a qualified name {NAME_RULE} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            ));
        }
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Err("prefix part must be non-empty".into());
        }
        if prefix.len() > 253 {
            return Err("prefix part must be no more than 253 characters".into());
        }
        if !is_dns1123_subdomain(prefix) {
            return Err("prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".into());
        }
    }
    if name.is_empty() {
        return Err("name part must be non-empty".into());
    }
    if name.len() > 63 {
        return Err("name part must be no more than 63 characters".into());
    }
    if !is_label_name(name) {
        return Err(format!("name part {NAME_RULE}"));
    }
    Ok(())
}

/// Checks a label value as Kubernetes does: empty, or at most 63 alphanumerics, `-`, `_`,
/// `.` starting and ending alphanumeric.
pub fn validate_label_value(value: &str) -> Result<(), String> {
    if value.len() > 63 {
        return Err("must be no more than 63 characters".into());
    }
    if !value.is_empty() && !is_label_name(value) {
        return Err("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    Ok(())
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

/// Dot-separated RFC 1123 labels: lower-case alphanumerics and `-`, alphanumeric at both ends.
fn is_dns1123_subdomain(s: &str) -> bool {
    s.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || *c == b'-')
    })
}

/// A parsed field selector: every `(path, op, value)` requirement must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

#[derive(Debug, Clone, PartialEq)]
struct FieldRequirement {
    /// Dotted path such as `metadata.name`.
    path: String,
    equals: bool,
    value: String,
}

impl FieldSelector {
    /// `key=value`, `key==value`, `key!=value`, comma-separated; `supported(key)` decides which keys are allowed,
    /// an unsupported key is an error worded like Kubernetes: `field label not supported: spec.foo`.
    /// Values may escape `\,`, `\=` and `\\`, as client-go's `fields.EscapeValue` produces.
    pub fn parse(s: &str, supported: impl Fn(&str) -> bool) -> Result<Self, String> {
        let mut requirements = Vec::new();
        for term in split_unescaped_commas(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let Some((lhs, equals, rhs)) = split_term(term) else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{term}'"
                ));
            };
            let path = lhs.trim();
            if !supported(path) {
                return Err(format!("field label not supported: {path}"));
            }
            let value = unescape_field_value(rhs.trim())?;
            requirements.push(FieldRequirement {
                path: path.to_string(),
                equals,
                value,
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// Compares the value at the dotted path in `obj` (missing = "") with the requirement value; numbers/bools compare by their text.
    pub fn matches(&self, obj: &Value) -> bool {
        self.requirements.iter().all(|r| {
            let actual = r
                .path
                .split('.')
                .try_fold(obj, |v, part| v.get(part))
                .map(value_text)
                .unwrap_or_default();
            (actual == r.value) == r.equals
        })
    }

    /// True when the selector has no requirements and so matches everything.
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// When the selector pins `metadata.name=X`, returns X (lets the server serve watches on one object cheaply).
    /// Other requirements still apply: callers must run [`FieldSelector::matches`] too.
    pub fn pinned_name(&self) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.equals && r.path == "metadata.name")
            .map(|r| r.value.as_str())
    }
}

/// Splits on commas not preceded by a backslash escape.
fn split_unescaped_commas(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            ',' => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// Splits at the first operator, trying `!=`, `==`, `=` at each position as Kubernetes does.
/// Returns `(lhs, is_equality, rhs)`.
fn split_term(term: &str) -> Option<(&str, bool, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, equals) in [("!=", false), ("==", true), ("=", true)] {
            if rest.starts_with(op) {
                return Some((&term[..i], equals, &term[i + op.len()..]));
            }
        }
    }
    None
}

fn unescape_field_value(s: &str) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('\\' | ',' | '=')) => out.push(e),
                Some(e) => {
                    return Err(format!(
                        "invalid field selector: invalid escape sequence: \\{e}"
                    ));
                }
                None => return Err("invalid field selector: invalid escape sequence: \\".into()),
            },
            ',' | '=' => {
                return Err(format!(
                    "invalid field selector: unescaped character in value: {c}"
                ));
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// The text a selector compares against: strings as-is, other scalars by their JSON text.
fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn matches(selector: &str, l: Value) -> bool {
        LabelSelector::parse(selector)
            .unwrap()
            .matches(Some(&labels(l)))
    }

    fn parse_err(selector: &str) -> String {
        LabelSelector::parse(selector).expect_err(selector)
    }

    #[test]
    fn empty_selector_matches_everything() {
        for s in ["", "   "] {
            let sel = LabelSelector::parse(s).unwrap();
            assert!(sel.is_empty());
            assert!(sel.matches(None));
            assert!(sel.matches(Some(&labels(json!({"a": "b"})))));
        }
        assert!(!LabelSelector::parse("a").unwrap().is_empty());
    }

    #[test]
    fn equality_operators() {
        for s in ["app=web", "app==web", " app = web ", "app == web"] {
            assert!(matches(s, json!({"app": "web"})), "{s}");
            assert!(!matches(s, json!({"app": "db"})), "{s}");
            assert!(!matches(s, json!({})), "{s}");
        }
        assert!(
            LabelSelector::parse("app=web")
                .unwrap()
                .matches(Some(&labels(json!({"app": "web", "x": "y"}))))
        );
        assert!(!LabelSelector::parse("app=web").unwrap().matches(None));
    }

    #[test]
    fn not_equals_matches_missing_key() {
        assert!(!matches("app!=web", json!({"app": "web"})));
        assert!(matches("app!=web", json!({"app": "db"})));
        assert!(matches("app!=web", json!({})));
        assert!(LabelSelector::parse("app != web").unwrap().matches(None));
    }

    #[test]
    fn set_operators() {
        assert!(matches("env in (dev,prod)", json!({"env": "prod"})));
        assert!(matches("env in ( dev , prod )", json!({"env": "dev"})));
        assert!(!matches("env in (dev,prod)", json!({"env": "qa"})));
        assert!(!matches("env in (dev)", json!({})));
        assert!(matches("env notin (dev)", json!({"env": "qa"})));
        assert!(matches("env notin (dev)", json!({})));
        assert!(!matches("env notin (dev, qa)", json!({"env": "qa"})));
        assert!(matches("env in(dev)", json!({"env": "dev"})));
    }

    #[test]
    fn empty_set_slots_mean_the_empty_value() {
        assert!(matches("env in ()", json!({"env": ""})));
        assert!(matches("env in (a,)", json!({"env": ""})));
        assert!(matches("env in (,a)", json!({"env": "a"})));
        assert!(!matches("env in (a,b)", json!({"env": ""})));
        assert!(matches("env=", json!({"env": ""})));
        assert!(matches("env=,x", json!({"env": "", "x": "1"})));
    }

    #[test]
    fn existence_operators() {
        assert!(matches("app", json!({"app": ""})));
        assert!(!matches("app", json!({"other": "x"})));
        assert!(matches("!app", json!({"other": "x"})));
        assert!(!matches("!app", json!({"app": "x"})));
        assert!(matches("! app", json!({})));
        assert!(LabelSelector::parse("!app").unwrap().matches(None));
        assert!(!LabelSelector::parse("app").unwrap().matches(None));
    }

    #[test]
    fn numeric_comparisons() {
        assert!(matches("tier>1", json!({"tier": "2"})));
        assert!(!matches("tier>1", json!({"tier": "1"})));
        assert!(matches("tier < 10", json!({"tier": "-3"})));
        assert!(!matches("tier<10", json!({"tier": "abc"})));
        assert!(!matches("tier<10", json!({})));
        assert!(parse_err("tier>x").contains("must be an integer"));
    }

    #[test]
    fn requirements_are_anded() {
        let s = "app=web, env in (prod), !canary, tier";
        assert!(matches(
            s,
            json!({"app": "web", "env": "prod", "tier": "1"})
        ));
        assert!(!matches(
            s,
            json!({"app": "web", "env": "prod", "tier": "1", "canary": "true"})
        ));
        assert!(!matches(s, json!({"app": "web", "env": "prod"})));
    }

    #[test]
    fn keywords_are_plain_words_in_value_position() {
        assert!(matches("in=notin", json!({"in": "notin"})));
        assert!(matches("notin in (in)", json!({"notin": "in"})));
        assert!(matches("in", json!({"in": "x"})));
    }

    #[test]
    fn prefixed_keys() {
        assert!(matches(
            "app.kubernetes.io/name=web",
            json!({"app.kubernetes.io/name": "web"})
        ));
        assert!(matches("!example.com/skip", json!({})));
    }

    #[test]
    fn malformed_selectors_are_rejected_naming_the_token() {
        let cases = [
            ("a=(b", "found '(', expected: identifier"),
            ("in in", "found '', expected: '('"),
            ("a in b", "found 'b', expected: '('"),
            ("a in (b", "found '', expected: ',' or ')'"),
            ("a in (b c)", "found 'c', expected: ',' or ')'"),
            ("a b", "found 'b', expected: in, notin, =, ==, !=, gt, lt"),
            ("a=b c", "found 'c', expected: ',' or 'end of string'"),
            ("a=b,", "found '', expected: identifier after ','"),
            (
                ",a",
                "found ',', expected: !, identifier, or 'end of string'",
            ),
            (
                "=a",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            ("!", "found '', expected: identifier"),
            ("!a=b", "found '=', expected: ',' or 'end of string'"),
            ("a=!b", "found '!', expected: identifier"),
            ("a in (=)", "found '=', expected: ',', ')' or identifier"),
            ("a in (b,=)", "found '=', expected: ',', or identifier"),
        ];
        for (selector, want) in cases {
            let err = parse_err(selector);
            assert!(
                err.contains(want),
                "{selector:?}: got {err:?}, want {want:?}"
            );
        }
        assert!(parse_err("a=(b").starts_with("unable to parse requirement: "));
    }

    #[test]
    fn invalid_keys_and_values_are_rejected() {
        let long = "x".repeat(64);
        for selector in [
            format!("{long}=a"),
            format!("a={long}"),
            "-a=b".into(),
            "a-=b".into(),
            "a/b/c=d".into(),
            "/a=b".into(),
            "Example.com/a=b".into(),
            "example.com/=b".into(),
            "a=-b".into(),
            "a=b.".into(),
            "a in (ok, not ok)".into(),
            "a=b*c".into(),
            "a\u{e9}=b".into(),
        ] {
            let err = parse_err(&selector);
            assert!(
                err.starts_with("unable to parse requirement: "),
                "{selector}: {err}"
            );
        }
        let err = parse_err("a=b*c");
        assert!(
            err.contains("values[0][a]: Invalid value: \"b*c\""),
            "{err}"
        );
        let err = parse_err("a*b=c");
        assert!(err.contains("key: Invalid value: \"a*b\""), "{err}");
        assert!(LabelSelector::parse(&format!("{}=a", "x".repeat(63))).is_ok());
        assert!(LabelSelector::parse("a=A_b-c.9").is_ok());
    }

    #[test]
    fn label_key_and_value_validation() {
        assert!(validate_label_key("app").is_ok());
        assert!(validate_label_key("kaspire.dev/owner").is_ok());
        assert!(validate_label_key("").is_err());
        assert!(validate_label_key("UPPER.example/x").is_err());
        assert!(validate_label_key(&format!("{}/x", "a".repeat(254))).is_err());
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("a b").is_err());
    }

    #[test]
    fn non_string_label_values_compare_by_text() {
        assert!(matches("n=1", json!({"n": 1})));
        assert!(matches("b=true", json!({"b": true})));
    }

    fn metadata_keys(key: &str) -> bool {
        matches!(key, "metadata.name" | "metadata.namespace" | "status.phase")
    }

    fn field(selector: &str) -> FieldSelector {
        FieldSelector::parse(selector, metadata_keys).unwrap()
    }

    #[test]
    fn field_selector_operators() {
        let obj = json!({"metadata": {"name": "web", "namespace": "default"}, "status": {"phase": "Running"}});
        assert!(field("metadata.name=web").matches(&obj));
        assert!(field("metadata.name==web").matches(&obj));
        assert!(!field("metadata.name!=web").matches(&obj));
        assert!(field("metadata.name!=db").matches(&obj));
        assert!(field("metadata.name=web,metadata.namespace=default").matches(&obj));
        assert!(!field("metadata.name=web,metadata.namespace=other").matches(&obj));
        assert!(field(" metadata.name = web , status.phase=Running").matches(&obj));
    }

    #[test]
    fn field_selector_missing_is_empty_and_scalars_compare_as_text() {
        let obj = json!({"metadata": {"name": "web"}, "status": {"phase": 3}});
        assert!(field("metadata.namespace=").matches(&obj));
        assert!(field("metadata.namespace!=default").matches(&obj));
        assert!(!field("metadata.namespace=default").matches(&obj));
        assert!(field("status.phase=3").matches(&obj));
        assert!(field("status.phase=true").matches(&json!({"status": {"phase": true}})));
        assert!(field("status.phase=").matches(&json!({"status": {"phase": null}})));
    }

    #[test]
    fn field_selector_empty_and_pinned_name() {
        let empty = field("");
        assert!(empty.is_empty() && empty.matches(&json!({})) && empty.pinned_name().is_none());
        assert!(field(",").is_empty());
        assert_eq!(
            field("metadata.namespace=x,metadata.name=web").pinned_name(),
            Some("web")
        );
        assert_eq!(field("metadata.name==web").pinned_name(), Some("web"));
        assert_eq!(field("metadata.name!=web").pinned_name(), None);
    }

    #[test]
    fn field_selector_escapes() {
        let sel = field(r"metadata.name=a\,b\=c\\d");
        assert!(sel.matches(&json!({"metadata": {"name": r"a,b=c\d"}})));
        assert_eq!(sel.pinned_name(), Some(r"a,b=c\d"));
        let err = FieldSelector::parse(r"metadata.name=a\x", metadata_keys).unwrap_err();
        assert!(err.contains("invalid escape sequence"), "{err}");
        let err = FieldSelector::parse("metadata.name=a=b", metadata_keys).unwrap_err();
        assert!(err.contains("unescaped character"), "{err}");
    }

    #[test]
    fn field_selector_errors() {
        assert_eq!(
            FieldSelector::parse("spec.foo=bar", metadata_keys).unwrap_err(),
            "field label not supported: spec.foo"
        );
        assert_eq!(
            FieldSelector::parse("metadata.name", metadata_keys).unwrap_err(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert!(FieldSelector::parse("metadata.name=a,bogus", metadata_keys).is_err());
    }
}

//! The expression parser: one pass over the text, no backtracking, errors that point at
//! the offending character and say what would have been accepted there.

use super::{EndpointProperty, Reference, Template};

/// A text that is not a valid template. `offset` is a byte offset into the input (at most its
/// length); `line` and `column` count characters from 1 for people.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", position(*.line, *.column))]
pub struct ParseError {
    /// Byte offset of the offending character (the input's length when the text ended early).
    pub offset: usize,
    /// Line of the offending character, from 1.
    pub line: usize,
    /// Column (in characters) of the offending character within its line, from 1.
    pub column: usize,
    /// What is wrong and what was expected there.
    pub message: String,
}

fn position(line: usize, column: usize) -> String {
    if line == 1 {
        format!("at column {column}: ")
    } else {
        format!("at line {line}, column {column}: ")
    }
}

const PROPERTIES: &str = "url, host, port, targetPort, scheme or hostAndPort";
const MEMBERS: &str = "connectionString, value or endpoints";
const LABEL_RULE: &str = "resource names are DNS-1123 labels: at most 63 lowercase letters, \
                          digits and `-`, starting and ending with a letter or digit";

/// Parses a text that may hold expressions, e.g. `Host={pg.endpoints.tcp.host};Port=5432`.
pub fn parse(text: &str) -> Result<Template, ParseError> {
    let mut template = Template::default();
    let bytes = text.as_bytes();
    let mut literal_start = 0;
    let mut i = 0;
    // Braces are ASCII, so byte-wise scanning never splits a multi-byte character.
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'}' if bytes.get(i + 1) == Some(&bytes[i]) => {
                template.push_literal(&text[literal_start..=i]);
                i += 2;
                literal_start = i;
            }
            b'}' => {
                return Err(error(
                    text,
                    i,
                    "unexpected `}` outside an expression; write `}}` for a literal brace",
                ));
            }
            b'{' => {
                template.push_literal(&text[literal_start..i]);
                let body_start = i + 1;
                let Some(body_len) = text[body_start..].find(['{', '}']) else {
                    return Err(unclosed(text, i));
                };
                if bytes[body_start + body_len] == b'{' {
                    return Err(unclosed(text, i));
                }
                let body = &text[body_start..body_start + body_len];
                template.push_reference(expression(text, body_start, body)?);
                i = body_start + body_len + 1;
                literal_start = i;
            }
            _ => i += 1,
        }
    }
    template.push_literal(&text[literal_start..]);
    Ok(template)
}

fn unclosed(text: &str, at: usize) -> ParseError {
    error(
        text,
        at,
        "`{` is not closed; expected an expression such as `{pg.connectionString}` ending in `}` \
         (write `{{` for a literal brace)",
    )
}

/// One `.`-separated part of an expression and the byte offset (in the whole text) it starts at.
struct Part<'a> {
    text: &'a str,
    at: usize,
}

/// Parses the inside of `{…}`; `start` is the byte offset of `body` in `text`.
fn expression(text: &str, start: usize, body: &str) -> Result<Reference, ParseError> {
    let end = start + body.len();
    if body.is_empty() {
        return Err(error(
            text,
            end,
            "empty expression `{}`; expected a resource name, e.g. `{pg.connectionString}` \
             (write `{{}}` for literal braces)",
        ));
    }
    let mut parts = Vec::new();
    let mut at = start;
    for piece in body.split('.') {
        parts.push(Part { text: piece, at });
        at += piece.len() + 1;
    }
    let resource = &parts[0];
    check_resource(text, resource)?;
    let name = resource.text;
    let Some(member) = parts.get(1) else {
        return Err(error(
            text,
            end,
            &format!(
                "expected `.` after resource name `{name}`: `{{{name}.connectionString}}`, \
                 `{{{name}.value}}` or `{{{name}.endpoints.NAME.url}}`"
            ),
        ));
    };
    let reference = match member.text {
        "connectionString" => Reference::ConnectionString {
            resource: name.to_owned(),
        },
        "value" => Reference::Value {
            resource: name.to_owned(),
        },
        "endpoints" => return endpoint(text, end, name, &parts),
        other => {
            let hint = if other == "bindings" {
                " (kaspire writes `endpoints` where Aspire manifests write `bindings`)"
            } else {
                ""
            };
            return Err(error(
                text,
                member.at,
                &format!("unknown member `{other}` of `{name}`; expected {MEMBERS}{hint}"),
            ));
        }
    };
    no_more(text, &parts, 2, &reference)?;
    Ok(reference)
}

fn endpoint(
    text: &str,
    end: usize,
    resource: &str,
    parts: &[Part],
) -> Result<Reference, ParseError> {
    let Some(endpoint) = parts.get(2) else {
        return Err(error(
            text,
            end,
            &format!(
                "expected `.` and an endpoint name after `{resource}.endpoints`, e.g. \
                 `{{{resource}.endpoints.http.url}}`"
            ),
        ));
    };
    check_endpoint(text, endpoint)?;
    let Some(property) = parts.get(3) else {
        return Err(error(
            text,
            end,
            &format!(
                "expected `.` and a property after endpoint `{}`; expected {PROPERTIES}",
                endpoint.text
            ),
        ));
    };
    let Some(kind) = EndpointProperty::from_name(property.text) else {
        let message = if property.text.is_empty() {
            format!(
                "missing property of endpoint `{}`; expected {PROPERTIES}",
                endpoint.text
            )
        } else {
            format!(
                "unknown property `{}` of endpoint `{}`; expected {PROPERTIES}",
                property.text, endpoint.text
            )
        };
        return Err(error(text, property.at, &message));
    };
    let reference = Reference::Endpoint {
        resource: resource.to_owned(),
        endpoint: endpoint.text.to_owned(),
        property: kind,
    };
    no_more(text, parts, 4, &reference)?;
    Ok(reference)
}

/// Fails when the expression goes on after a complete reference.
fn no_more(
    text: &str,
    parts: &[Part],
    used: usize,
    reference: &Reference,
) -> Result<(), ParseError> {
    match parts.get(used) {
        None => Ok(()),
        Some(extra) => {
            let complete = reference.to_string();
            Err(error(
                text,
                extra.at - 1,
                &format!(
                    "unexpected `.{}` after `{}`; expected `}}`",
                    extra.text,
                    &complete[..complete.len() - 1]
                ),
            ))
        }
    }
}

fn check_resource(text: &str, part: &Part) -> Result<(), ParseError> {
    let name = part.text;
    if name.is_empty() {
        return Err(error(
            text,
            part.at,
            &format!("missing resource name; {LABEL_RULE}"),
        ));
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return Err(error(
            text,
            part.at + i,
            &format!(
                "invalid character {c:?} in resource name `{name}`; {LABEL_RULE} \
                 (write `{{{{` for a literal brace)"
            ),
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        let at = if name.starts_with('-') {
            part.at
        } else {
            part.at + name.len() - 1
        };
        return Err(error(
            text,
            at,
            &format!("resource name `{name}` starts or ends with `-`; {LABEL_RULE}"),
        ));
    }
    if name.len() > 63 {
        return Err(error(
            text,
            part.at + 63,
            &format!("resource name `{name}` is longer than 63 characters; {LABEL_RULE}"),
        ));
    }
    Ok(())
}

fn check_endpoint(text: &str, part: &Part) -> Result<(), ParseError> {
    let name = part.text;
    if name.is_empty() {
        return Err(error(
            text,
            part.at,
            "missing endpoint name after `endpoints.`; expected e.g. `http`",
        ));
    }
    if let Some((i, c)) = name
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(error(
            text,
            part.at + i,
            &format!(
                "invalid character {c:?} in endpoint name `{name}`; endpoint names hold letters, \
                 digits, `-` and `_`"
            ),
        ));
    }
    Ok(())
}

/// True when `name` can name a resource in an expression (a DNS-1123 label).
pub fn is_resource_name(name: &str) -> bool {
    check_resource(name, &Part { text: name, at: 0 }).is_ok()
}

fn error(text: &str, offset: usize, message: &str) -> ParseError {
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    ParseError {
        offset,
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
        message: message.to_owned(),
    }
}

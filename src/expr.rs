//! Expressions inside `args`, `env[].value` and `connectionString` (product.md §4).
//!
//! A text such as `Host={pg.endpoints.tcp.host};Password={pg-password.value}` is parsed
//! once into a [`Template`]: literal text and [`Reference`]s to other resources. The
//! controllers ask a template which resources it needs ([`Template::references`]), resolve
//! it at start time in the consumer's [`Context`] ([`Template::resolve`]) and publish it as
//! an Aspire manifest placeholder ([`Template::to_aspire`]).
//!
//! Grammar (`{{` and `}}` are literal braces everywhere else):
//! ```text
//! template   = { literal | "{{" | "}}" | "{" expression "}" }
//! expression = RESOURCE "." ( "connectionString" | "value"
//!                           | "endpoints" "." ENDPOINT "." property )
//! property   = "url" | "host" | "port" | "targetPort" | "scheme" | "hostAndPort"
//! RESOURCE   = DNS-1123 label;  ENDPOINT = letters, digits, "-" and "_"
//! ```
//!
//! # Layout
//! - [`parser`]: the hand-written parser and [`ParseError`] (column + what was expected).
//! - [`resolve`]: the [`Resolver`] trait, [`Context`] rules (who sees which host and port)
//!   and [`Snapshot`], a resolver over plain maps that the controllers fill.
//! - [`inject`]: the Aspire variables `references:` injects (`ConnectionStrings__pg`, …).

pub mod inject;
pub mod parser;
pub mod resolve;

use std::fmt;

pub use inject::{ReferencedEndpoint, endpoints_injected, reference_env};
pub use parser::{ParseError, is_resource_name, parse};
pub use resolve::{
    CONTAINER_HOST_ALIAS, Context, EndpointTarget, Entry, Location, MASK, Missing, Resolved,
    Resolver, Snapshot, Unresolved,
};

/// A parsed expression text: literal and reference segments in order. Adjacent literals are
/// always merged and never empty, so two templates are equal exactly when they mean the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Template {
    segments: Vec<Segment>,
}

/// One piece of a [`Template`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// Text taken as is (`{{` and `}}` already turned into single braces).
    Literal(String),
    /// A `{…}` expression.
    Reference(Reference),
}

/// What a `{…}` expression refers to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reference {
    /// `{res.endpoints.EP.PROPERTY}`: a property of a resource's endpoint.
    Endpoint {
        resource: String,
        endpoint: String,
        property: EndpointProperty,
    },
    /// `{res.connectionString}`: the resource's connection string.
    ConnectionString { resource: String },
    /// `{param.value}`: a Parameter's value.
    Value { resource: String },
}

/// The endpoint properties an expression can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndpointProperty {
    /// `scheme://host:port`.
    Url,
    /// The host name the consumer reaches the endpoint at.
    Host,
    /// The port the consumer reaches the endpoint at.
    Port,
    /// The port the serving replica listens on.
    TargetPort,
    /// `http`, `https`, `tcp` or `udp`.
    Scheme,
    /// `host:port`.
    HostAndPort,
}

impl EndpointProperty {
    /// Every property, in the order error messages list them.
    pub const ALL: [EndpointProperty; 6] = [
        Self::Url,
        Self::Host,
        Self::Port,
        Self::TargetPort,
        Self::Scheme,
        Self::HostAndPort,
    ];

    /// The property as written in an expression, e.g. `targetPort`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Url => "url",
            Self::Host => "host",
            Self::Port => "port",
            Self::TargetPort => "targetPort",
            Self::Scheme => "scheme",
            Self::HostAndPort => "hostAndPort",
        }
    }

    /// The property named `text`, if it is one (case-sensitive, as written in YAML).
    pub fn from_name(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

impl Reference {
    /// The resource this reference names; the consumer waits for it.
    pub fn resource(&self) -> &str {
        match self {
            Self::Endpoint { resource, .. }
            | Self::ConnectionString { resource }
            | Self::Value { resource } => resource,
        }
    }

    /// The Aspire manifest placeholder: `{api.bindings.http.url}`, `{pg.connectionString}`,
    /// `{p.value}`; `hostAndPort` becomes `{r.bindings.e.host}:{r.bindings.e.port}` as Aspire
    /// writes it.
    pub fn to_aspire(&self) -> String {
        match self {
            Self::Endpoint {
                resource,
                endpoint,
                property: EndpointProperty::HostAndPort,
            } => format!(
                "{{{resource}.bindings.{endpoint}.host}}:{{{resource}.bindings.{endpoint}.port}}"
            ),
            Self::Endpoint {
                resource,
                endpoint,
                property,
            } => format!("{{{resource}.bindings.{endpoint}.{}}}", property.as_str()),
            Self::ConnectionString { resource } => format!("{{{resource}.connectionString}}"),
            Self::Value { resource } => format!("{{{resource}.value}}"),
        }
    }
}

/// The expression as written in kaspire YAML, braces included: `{api.endpoints.http.url}`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Endpoint {
                resource,
                endpoint,
                property,
            } => write!(
                f,
                "{{{resource}.endpoints.{endpoint}.{}}}",
                property.as_str()
            ),
            Self::ConnectionString { resource } => write!(f, "{{{resource}.connectionString}}"),
            Self::Value { resource } => write!(f, "{{{resource}.value}}"),
        }
    }
}

impl Template {
    /// A template of these segments; adjacent literals are merged and empty ones dropped.
    pub fn new(segments: impl IntoIterator<Item = Segment>) -> Self {
        let mut template = Self::default();
        for segment in segments {
            match segment {
                Segment::Literal(text) => template.push_literal(&text),
                reference => template.segments.push(reference),
            }
        }
        template
    }

    /// A template of plain text with no references.
    pub fn literal(text: &str) -> Self {
        Self::new([Segment::Literal(text.to_owned())])
    }

    pub(crate) fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Segment::Literal(last)) = self.segments.last_mut() {
            last.push_str(text);
        } else {
            self.segments.push(Segment::Literal(text.to_owned()));
        }
    }

    pub(crate) fn push_reference(&mut self, reference: Reference) {
        self.segments.push(Segment::Reference(reference));
    }

    /// The segments in order.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Every reference, in order of appearance (repeats included); the controller waits for
    /// the resources they name.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.segments.iter().filter_map(|segment| match segment {
            Segment::Reference(reference) => Some(reference),
            Segment::Literal(_) => None,
        })
    }

    /// True when the template is plain text.
    pub fn is_literal(&self) -> bool {
        self.references().next().is_none()
    }

    /// The text with every reference replaced by what `resolver` answers, plus a copy with
    /// secret values masked for status and logs. Fails on the first reference the resolver
    /// cannot answer, saying which and why.
    pub fn resolve(&self, resolver: &impl Resolver) -> Result<Resolved, Unresolved> {
        let mut out = Resolved::default();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push(&Resolved::plain(text.clone())),
                Segment::Reference(reference) => {
                    let value =
                        resolve::reference(resolver, reference).map_err(|missing| Unresolved {
                            reference: reference.clone(),
                            missing,
                        })?;
                    out.push(&value);
                }
            }
        }
        Ok(out)
    }

    /// The Aspire manifest form: references become placeholders (`{api.bindings.http.url}`)
    /// and literal braces stay doubled, as Aspire's deployment tools read them.
    pub fn to_aspire(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => escape_into(&mut out, text),
                Segment::Reference(reference) => out.push_str(&reference.to_aspire()),
            }
        }
        out
    }
}

/// The template as written in kaspire YAML; `parse(&t.to_string()) == Ok(t)`.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(literal) => escape_into(&mut text, literal),
                Segment::Reference(reference) => text.push_str(&reference.to_string()),
            }
        }
        f.write_str(&text)
    }
}

impl std::str::FromStr for Template {
    type Err = ParseError;
    fn from_str(text: &str) -> Result<Self, ParseError> {
        parse(text)
    }
}

fn escape_into(out: &mut String, literal: &str) {
    for c in literal.chars() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests;

//! Resolving templates at start time, in the consumer's context.
//!
//! Whoever starts a resource implements [`Resolver`] (or fills a [`Snapshot`]) with what the
//! store knows: allocated endpoints, connection-string templates, parameter values. Where an
//! endpoint is reached from is a pure rule of the consumer's [`Context`] and the serving
//! resource's [`Location`]: a process sees `localhost:PORT`; a container sees another
//! container on its network as `NAME:TARGETPORT` and anything on the host as
//! `host.docker.internal:PORT`.

use std::collections::BTreeMap;

use super::{EndpointProperty, Reference, Template};

/// What a secret value looks like in status, logs and events.
pub const MASK: &str = "*****";

/// The host name under which containers reach the developer's machine.
pub const CONTAINER_HOST_ALIAS: &str = "host.docker.internal";

/// A resolved text: `text` goes to the process; `masked` (secret values replaced by
/// [`MASK`]) is what status, logs and events may show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resolved {
    /// The real value.
    pub text: String,
    /// The value with every secret part replaced by `*****`.
    pub masked: String,
}

impl Resolved {
    /// A value anyone may see.
    pub fn plain(text: impl Into<String>) -> Self {
        let text = text.into();
        Self {
            masked: text.clone(),
            text,
        }
    }

    /// A value that must never be shown: masked entirely.
    pub fn secret(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            masked: MASK.to_owned(),
        }
    }

    /// True when some part of the value is secret.
    pub fn has_secret(&self) -> bool {
        self.text != self.masked
    }

    pub(crate) fn push(&mut self, other: &Resolved) {
        self.text.push_str(&other.text);
        self.masked.push_str(&other.masked);
    }
}

/// Why a reference has no value (yet); the consumer keeps Waiting with this as its message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// No resource of that name exists in the namespace.
    Resource,
    /// The resource exists but declares no endpoint of that name.
    Endpoint,
    /// The resource has no connection string (or is no Parameter, for `.value`).
    NotOffered,
    /// The value exists but is not known yet, e.g. ports not allocated or a Parameter without a
    /// value; says why.
    NotYet(String),
}

/// A reference a [`Resolver`] could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reference}: {}", describe(reference, missing))]
pub struct Unresolved {
    /// The expression that failed.
    pub reference: Reference,
    /// Why.
    pub missing: Missing,
}

fn describe(reference: &Reference, missing: &Missing) -> String {
    let resource = reference.resource();
    match (missing, reference) {
        (Missing::Resource, _) => format!("resource `{resource}` does not exist yet"),
        (Missing::Endpoint, Reference::Endpoint { endpoint, .. }) => format!(
            "resource `{resource}` has no endpoint `{endpoint}`; add it to `{resource}`'s \
             spec.endpoints or fix the name"
        ),
        (Missing::Endpoint, _) => format!("resource `{resource}` has no such endpoint"),
        (Missing::NotOffered, Reference::Value { .. }) => {
            format!("`{resource}` is not a Parameter, so it has no value")
        }
        (Missing::NotOffered, _) => format!("resource `{resource}` has no connection string"),
        (Missing::NotYet(why), _) => why.clone(),
    }
}

/// Answers references for one consumer; implemented by whoever starts the consumer.
pub trait Resolver {
    /// A property of `resource`'s endpoint `endpoint` as the consumer reaches it.
    fn endpoint(
        &self,
        resource: &str,
        endpoint: &str,
        property: EndpointProperty,
    ) -> Result<String, Missing>;
    /// `resource`'s connection string, itself resolved in the consumer's context.
    fn connection_string(&self, resource: &str) -> Result<Resolved, Missing>;
    /// The value of Parameter `resource`; [`Resolved::secret`] for secret parameters.
    fn value(&self, resource: &str) -> Result<Resolved, Missing>;
}

pub(crate) fn reference(
    resolver: &impl Resolver,
    reference: &Reference,
) -> Result<Resolved, Missing> {
    match reference {
        Reference::Endpoint {
            resource,
            endpoint,
            property,
        } => resolver
            .endpoint(resource, endpoint, *property)
            .map(Resolved::plain),
        Reference::ConnectionString { resource } => resolver.connection_string(resource),
        Reference::Value { resource } => resolver.value(resource),
    }
}

/// Where the consumer runs, which decides the host and port it reaches an endpoint at.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub enum Context {
    /// A process on the developer's machine.
    #[default]
    Process,
    /// A container attached to `network`.
    Container { network: String },
}

/// Where the resource serving an endpoint runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Location {
    /// A process on the developer's machine (or anything published on the host's loopback).
    Host,
    /// A container reachable as `name` by other containers on `network`.
    Container { name: String, network: String },
}

/// What the store knows about one allocated endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EndpointTarget {
    /// `http`, `https`, `tcp` or `udp`.
    pub scheme: String,
    /// Where the serving resource runs.
    pub location: Location,
    /// The stable port on the host (the proxy's, or the published container port).
    pub port: u16,
    /// The port the serving replica listens on (inside its container, for containers).
    pub target_port: u16,
}

impl Context {
    /// The host and port this consumer reaches `target` at: containers on the same network
    /// talk directly (`NAME:TARGETPORT`); a container reaches everything else through the host
    /// (`host.docker.internal:PORT`); a process reaches everything at `localhost:PORT`.
    pub fn address(&self, target: &EndpointTarget) -> (String, u16) {
        match (self, &target.location) {
            (Context::Process, _) => ("localhost".to_owned(), target.port),
            (
                Context::Container { network },
                Location::Container {
                    name,
                    network: theirs,
                },
            ) if network == theirs => (name.clone(), target.target_port),
            (Context::Container { .. }, _) => (CONTAINER_HOST_ALIAS.to_owned(), target.port),
        }
    }

    /// One property of `target` as this consumer sees it.
    pub fn property(&self, target: &EndpointTarget, property: EndpointProperty) -> String {
        let (host, port) = self.address(target);
        match property {
            EndpointProperty::Url => format!("{}://{host}:{port}", target.scheme),
            EndpointProperty::Host => host,
            EndpointProperty::Port => port.to_string(),
            EndpointProperty::TargetPort => target.target_port.to_string(),
            EndpointProperty::Scheme => target.scheme.clone(),
            EndpointProperty::HostAndPort => format!("{host}:{port}"),
        }
    }
}

/// A [`Resolver`] over plain data: what the controller read from the store, for one consumer
/// context. Connection strings are kept as templates and resolved in that same context, so a
/// container sees `pg:5432` inside `{pg.connectionString}` where a process sees
/// `localhost:PORT`.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The consumer's context.
    pub context: Context,
    /// Every resource in the namespace, by name.
    pub resources: BTreeMap<String, Entry>,
}

/// What a [`Snapshot`] knows about one resource.
#[derive(Clone, Debug, Default)]
pub struct Entry {
    /// Allocated endpoints by name; a declared endpoint without allocation is `None`.
    pub endpoints: BTreeMap<String, Option<EndpointTarget>>,
    /// The resource's connection-string template, if it offers one.
    pub connection_string: Option<Template>,
    /// For Parameters: the value once known (`Ok`), or why it is not (`Err`).
    pub value: Option<Result<Resolved, String>>,
}

/// Connection strings may name other connection strings; deeper than this is a cycle.
const MAX_NESTING: usize = 16;

impl Snapshot {
    /// An empty snapshot for a consumer in `context`.
    pub fn new(context: Context) -> Self {
        Self {
            context,
            resources: BTreeMap::new(),
        }
    }

    /// The entry of `name`, created empty when absent (for filling the snapshot).
    pub fn resource(&mut self, name: &str) -> &mut Entry {
        self.resources.entry(name.to_owned()).or_default()
    }

    fn entry(&self, name: &str) -> Result<&Entry, Missing> {
        self.resources.get(name).ok_or(Missing::Resource)
    }
}

/// The snapshot seen from inside `depth` nested connection strings.
struct Nested<'a> {
    snapshot: &'a Snapshot,
    depth: usize,
}

impl Resolver for Nested<'_> {
    fn endpoint(
        &self,
        resource: &str,
        endpoint: &str,
        property: EndpointProperty,
    ) -> Result<String, Missing> {
        let entry = self.snapshot.entry(resource)?;
        match entry.endpoints.get(endpoint) {
            None => Err(Missing::Endpoint),
            Some(None) => Err(Missing::NotYet(format!(
                "endpoint `{endpoint}` of `{resource}` has no port allocated yet"
            ))),
            Some(Some(target)) => Ok(self.snapshot.context.property(target, property)),
        }
    }

    fn connection_string(&self, resource: &str) -> Result<Resolved, Missing> {
        let entry = self.snapshot.entry(resource)?;
        let template = entry
            .connection_string
            .as_ref()
            .ok_or(Missing::NotOffered)?;
        if self.depth >= MAX_NESTING {
            return Err(Missing::NotYet(format!(
                "the connection string of `{resource}` refers to itself through other connection strings"
            )));
        }
        let inner = Nested {
            snapshot: self.snapshot,
            depth: self.depth + 1,
        };
        template.resolve(&inner).map_err(|unresolved| {
            Missing::NotYet(format!("connection string of `{resource}`: {unresolved}"))
        })
    }

    fn value(&self, resource: &str) -> Result<Resolved, Missing> {
        match &self.snapshot.entry(resource)?.value {
            None => Err(Missing::NotOffered),
            Some(Ok(value)) => Ok(value.clone()),
            Some(Err(why)) => Err(Missing::NotYet(why.clone())),
        }
    }
}

impl Resolver for Snapshot {
    fn endpoint(
        &self,
        resource: &str,
        endpoint: &str,
        property: EndpointProperty,
    ) -> Result<String, Missing> {
        Nested {
            snapshot: self,
            depth: 0,
        }
        .endpoint(resource, endpoint, property)
    }
    fn connection_string(&self, resource: &str) -> Result<Resolved, Missing> {
        Nested {
            snapshot: self,
            depth: 0,
        }
        .connection_string(resource)
    }
    fn value(&self, resource: &str) -> Result<Resolved, Missing> {
        Nested {
            snapshot: self,
            depth: 0,
        }
        .value(resource)
    }
}

//! The environment variables `references: [NAME]` injects, named exactly as Aspire's
//! `WithReference` names them (dotnet/aspire `ResourceBuilderExtensions`), so Aspire
//! service-discovery and configuration clients work unchanged:
//!
//! - `ConnectionStrings__NAME` = the connection string, when the resource offers one;
//! - per endpoint, in declaration order, `NAME_ENDPOINT` (upper-cased, encoded for the
//!   environment: `api-gw` + `http` → `API_GW_HTTP`) and `services__NAME__SCHEME__INDEX` =
//!   the endpoint's URL, INDEX counting from 0 per scheme — the key carries the endpoint's
//!   scheme, not its name, so `https+http://api` resolves in .NET service discovery.
//!
//! Aspire's connection-property variables (`PG_HOST`, `PG_PORT`, …) come from C# integration
//! code kaspire does not have, so they are not emitted.

/// One endpoint of a referenced resource, as the consumer reaches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferencedEndpoint {
    /// Endpoint name, e.g. `http`.
    pub name: String,
    /// Endpoint scheme, e.g. `http` or `tcp`.
    pub scheme: String,
    /// URL the consumer uses, e.g. `http://localhost:5080` (or a manifest placeholder).
    pub url: String,
}

/// Whether `references:` injects a resource's endpoints as well as its connection string.
/// Aspire injects endpoints for services (projects, executables: our Executables) and for a
/// resource referenced by its endpoints (a container with no connection string); a resource
/// referenced for its connection string (a database container, a Value, a Parameter) injects
/// only `ConnectionStrings__NAME`.
pub fn endpoints_injected(is_executable: bool, has_connection_string: bool) -> bool {
    is_executable || !has_connection_string
}

/// The variables, in Aspire's order, that referencing `resource` injects. Pass only the
/// endpoints [`endpoints_injected`] allows.
pub fn reference_env(
    resource: &str,
    connection_string: Option<&str>,
    endpoints: &[ReferencedEndpoint],
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    if let Some(connection_string) = connection_string {
        env.push((
            format!("ConnectionStrings__{resource}"),
            connection_string.to_owned(),
        ));
    }
    let service_key = encode(&resource.to_uppercase());
    let mut per_scheme: Vec<(&str, usize)> = Vec::new();
    for endpoint in endpoints {
        env.push((
            format!("{service_key}_{}", encode(&endpoint.name).to_uppercase()),
            endpoint.url.clone(),
        ));
        // Aspire counts per scheme case-insensitively; schemes here are lowercase already.
        let index = match per_scheme.iter_mut().find(|(s, _)| *s == endpoint.scheme) {
            Some((_, next)) => {
                *next += 1;
                *next - 1
            }
            None => {
                per_scheme.push((&endpoint.scheme, 1));
                0
            }
        };
        env.push((
            format!("services__{resource}__{}__{index}", endpoint.scheme),
            endpoint.url.clone(),
        ));
    }
    env
}

/// Aspire's `EnvironmentVariableNameEncoder.Encode`: a name already valid for the environment
/// stays as is; otherwise every character but ASCII letters and digits becomes `_`, with `_`
/// prepended when the name starts with a digit.
pub fn encode(name: &str) -> String {
    let valid = name
        .chars()
        .next()
        .is_none_or(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    out.extend(
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    out
}

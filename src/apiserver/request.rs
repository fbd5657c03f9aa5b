//! Parsing of the Kubernetes URL layout and query parameters into a [`Target`].

use std::collections::HashMap;

use super::error::{ApiError, ApiResult};

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Version,
    Health,
    /// `/api`: the core group's versions (or aggregated discovery of the core group).
    CoreVersions,
    /// `/apis`: the group list (or aggregated discovery of every group).
    GroupList,
    Group(String),
    /// `/api/v1` or `/apis/<g>/<v>`: an APIResourceList.
    ResourceList {
        group: String,
        version: String,
    },
    OpenApiV3Root,
    OpenApiV3 {
        group: String,
        version: String,
    },
    OpenApiV2,
    Resource(ResourcePath),
}

/// A request on a resource collection, one object, or one object's subresource.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePath {
    pub group: String,
    pub version: String,
    pub plural: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Maps a request path to its [`Target`].
pub fn parse_path(path: &str) -> ApiResult<Target> {
    let segments: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let target = match segments.as_slice() {
        ["version"] => Target::Version,
        ["healthz" | "livez" | "readyz", ..] => Target::Health,
        ["api"] => Target::CoreVersions,
        ["apis"] => Target::GroupList,
        ["apis", group] => Target::Group(group.to_string()),
        ["api", version] => Target::ResourceList {
            group: String::new(),
            version: version.to_string(),
        },
        ["apis", group, version] => Target::ResourceList {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v3"] => Target::OpenApiV3Root,
        ["openapi", "v3", "api", version] => Target::OpenApiV3 {
            group: String::new(),
            version: version.to_string(),
        },
        ["openapi", "v3", "apis", group, version] => Target::OpenApiV3 {
            group: group.to_string(),
            version: version.to_string(),
        },
        ["openapi", "v2"] | ["swagger.json"] => Target::OpenApiV2,
        ["api", version, rest @ ..] => {
            Target::Resource(resource_path("", version, rest).ok_or_else(|| not_found(path))?)
        }
        ["apis", group, version, rest @ ..] => {
            Target::Resource(resource_path(group, version, rest).ok_or_else(|| not_found(path))?)
        }
        _ => return Err(not_found(path)),
    };
    Ok(target)
}

fn not_found(path: &str) -> ApiError {
    ApiError::path_not_found(path)
}

fn resource_path(group: &str, version: &str, rest: &[&str]) -> Option<ResourcePath> {
    let (namespace, rest) = match rest {
        // `namespaces/<ns>/<resource>…` is a namespaced request; `namespaces/<ns>` alone
        // (or with a subresource like `status`) addresses the Namespace object itself.
        ["namespaces", ns, plural, more @ ..]
            if group.is_empty() && !is_namespace_subresource(plural, more) =>
        {
            (Some(ns.to_string()), [&[*plural][..], more].concat())
        }
        ["namespaces", ns, plural, more @ ..] if !group.is_empty() => {
            (Some(ns.to_string()), [&[*plural][..], more].concat())
        }
        _ => (None, rest.to_vec()),
    };
    let (plural, name, subresource) = match rest.as_slice() {
        [plural] => (plural, None, None),
        [plural, name] => (plural, Some(name.to_string()), None),
        [plural, name, sub] => (plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        plural: plural.to_string(),
        namespace,
        name,
        subresource,
    })
}

/// `/api/v1/namespaces/<ns>/status` and `/finalize` are subresources of the Namespace.
fn is_namespace_subresource(next: &str, more: &[&str]) -> bool {
    more.is_empty() && matches!(next, "status" | "finalize")
}

/// Query parameters of a request (the last value wins, like the real server).
#[derive(Debug, Default, Clone)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(query.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A boolean parameter: `true` or `1`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }

    /// A non-negative integer parameter, with a 400 naming it when malformed.
    pub fn number(&self, key: &str) -> ApiResult<Option<u64>> {
        self.get(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "invalid value for {key}: {v:?} is not a non-negative integer"
                    ))
                })
            })
            .transpose()
    }

    /// `dryRun=All` (the only value Kubernetes accepts besides none).
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "unsupported dryRun value {other:?}: the only supported value is \"All\""
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse_path(path).unwrap() {
            Target::Resource(r) => r,
            other => panic!("{path} parsed as {other:?}"),
        }
    }

    #[test]
    fn namespaced_custom_resource_with_subresource() {
        let r = res("/apis/kaspire.dev/v1alpha1/namespaces/default/executables/api/status");
        assert_eq!(r.group, "kaspire.dev");
        assert_eq!(r.namespace.as_deref(), Some("default"));
        assert_eq!(r.plural, "executables");
        assert_eq!(r.name.as_deref(), Some("api"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
    }

    #[test]
    fn namespace_object_and_its_status_are_cluster_scoped() {
        let r = res("/api/v1/namespaces/default");
        assert_eq!(
            (r.plural.as_str(), r.name.as_deref(), r.namespace),
            ("namespaces", Some("default"), None)
        );
        let r = res("/api/v1/namespaces/default/status");
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = res("/api/v1/namespaces/default/secrets");
        assert_eq!(
            (r.plural.as_str(), r.namespace.as_deref()),
            ("secrets", Some("default"))
        );
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse_path("/apis").unwrap(), Target::GroupList);
        assert_eq!(
            parse_path("/api/v1").unwrap(),
            Target::ResourceList {
                group: "".into(),
                version: "v1".into()
            }
        );
        assert!(parse_path("/nope").is_err());
    }

    #[test]
    fn query_tolerates_the_empty_first_parameter_kube_rs_sends() {
        let q = Query::parse(Some("&watch=true&timeoutSeconds=290"));
        assert!(q.flag("watch"));
        assert_eq!(q.number("timeoutSeconds").unwrap(), Some(290));
        assert!(Query::parse(Some("limit=x")).number("limit").is_err());
    }
}

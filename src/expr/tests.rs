use proptest::prelude::*;

use super::*;

fn endpoint(resource: &str, endpoint: &str, property: EndpointProperty) -> Reference {
    Reference::Endpoint {
        resource: resource.into(),
        endpoint: endpoint.into(),
        property,
    }
}

fn connection_string(resource: &str) -> Reference {
    Reference::ConnectionString {
        resource: resource.into(),
    }
}

fn value(resource: &str) -> Reference {
    Reference::Value {
        resource: resource.into(),
    }
}

fn lit(text: &str) -> Segment {
    Segment::Literal(text.into())
}

fn reference(reference: Reference) -> Segment {
    Segment::Reference(reference)
}

#[test]
fn parses_every_kind_of_reference_between_literals() {
    let template = parse(
        "Host={pg.endpoints.tcp.host};Port={pg.endpoints.tcp.port};Password={pg-password.value}",
    )
    .unwrap();
    assert_eq!(
        template.segments(),
        [
            lit("Host="),
            reference(endpoint("pg", "tcp", EndpointProperty::Host)),
            lit(";Port="),
            reference(endpoint("pg", "tcp", EndpointProperty::Port)),
            lit(";Password="),
            reference(value("pg-password")),
        ]
    );
    let names: Vec<_> = template.references().map(Reference::resource).collect();
    assert_eq!(names, ["pg", "pg", "pg-password"]);

    for property in EndpointProperty::ALL {
        let text = format!("{{api.endpoints.http.{}}}", property.as_str());
        assert_eq!(
            parse(&text).unwrap().segments(),
            [reference(endpoint("api", "http", property))]
        );
    }
    assert_eq!(
        parse("{appdata.connectionString}").unwrap().segments(),
        [reference(connection_string("appdata"))]
    );
}

#[test]
fn doubled_braces_are_literal_braces() {
    let template = parse("{{\"a\": {{{x.value}}}}}").unwrap();
    assert_eq!(
        template.segments(),
        [lit("{\"a\": {"), reference(value("x")), lit("}}")]
    );
    assert_eq!(template.to_string(), "{{\"a\": {{{x.value}}}}}");
    assert!(parse("no braces at all").unwrap().is_literal());
    assert_eq!(parse("").unwrap(), Template::default());
}

#[test]
fn multibyte_text_around_references_survives() {
    let template = parse("ü→{api.endpoints.http.url}←€").unwrap();
    assert_eq!(template.to_string(), "ü→{api.endpoints.http.url}←€");
}

/// (input, byte offset, column, part of the message)
const BAD: &[(&str, usize, usize, &str)] = &[
    (
        "{api.endpoints.http.prot}",
        20,
        21,
        "unknown property `prot` of endpoint `http`; expected url, host, port, targetPort, scheme or hostAndPort",
    ),
    ("x={pg.value", 2, 3, "`{` is not closed"),
    ("a={pg.value b={c.value}", 2, 3, "`{` is not closed"),
    ("50}%", 2, 3, "unexpected `}`"),
    ("{}", 1, 2, "empty expression"),
    ("{pg}", 3, 4, "expected `.` after resource name `pg`"),
    (
        "{Pg.value}",
        1,
        2,
        "invalid character 'P' in resource name `Pg`",
    ),
    ("{pg_1.value}", 3, 4, "invalid character '_'"),
    ("{-pg.value}", 1, 2, "starts or ends with `-`"),
    ("{.value}", 1, 2, "missing resource name"),
    (
        "{pg.conectionString}",
        4,
        5,
        "unknown member `conectionString` of `pg`; expected connectionString, value or endpoints",
    ),
    (
        "{pg.bindings.tcp.url}",
        4,
        5,
        "Aspire manifests write `bindings`",
    ),
    (
        "{pg.connectionString.x}",
        20,
        21,
        "unexpected `.x` after `{pg.connectionString`; expected `}`",
    ),
    (
        "{api.endpoints}",
        14,
        15,
        "expected `.` and an endpoint name",
    ),
    (
        "{api.endpoints.http}",
        19,
        20,
        "expected `.` and a property after endpoint `http`",
    ),
    (
        "{api.endpoints.http.}",
        20,
        21,
        "missing property of endpoint `http`",
    ),
    (
        "{api.endpoints.ht tp.url}",
        17,
        18,
        "invalid character ' ' in endpoint name",
    ),
    ("{api.endpoints.http.url.x}", 23, 24, "unexpected `.x`"),
    ("{ pg.value }", 1, 2, "invalid character ' '"),
];

#[test]
fn bad_input_names_the_position_and_what_was_expected() {
    for &(input, offset, column, message) in BAD {
        let error = parse(input).expect_err(input);
        assert_eq!(
            (error.offset, error.column, error.line),
            (offset, column, 1),
            "{input}: {error}"
        );
        assert!(error.message.contains(message), "{input}: {error}");
        assert!(
            error
                .to_string()
                .starts_with(&format!("at column {column}: ")),
            "{error}"
        );
    }
}

#[test]
fn errors_in_multi_line_text_give_line_and_column() {
    let error = parse("import os\nprint({'a': 1})\n").unwrap_err();
    assert_eq!((error.line, error.column), (2, 8));
    assert!(
        error.to_string().starts_with("at line 2, column 8: "),
        "{error}"
    );
    assert!(
        error.message.contains("write `{{` for a literal brace"),
        "{error}"
    );
}

#[test]
fn long_resource_names_are_rejected() {
    let name = "a".repeat(64);
    let error = parse(&format!("{{{name}.value}}")).unwrap_err();
    assert!(error.message.contains("longer than 63"), "{error}");
    assert!(is_resource_name(&"a".repeat(63)));
    assert!(!is_resource_name(&name));
    assert!(!is_resource_name("a.b"));
}

#[test]
fn aspire_placeholders_use_bindings_and_keep_doubled_braces() {
    let template = parse(
        "{api.endpoints.http.url} {pg.connectionString} {p.value} {{x}} \
         {api.endpoints.http.targetPort} {api.endpoints.http.hostAndPort}",
    )
    .unwrap();
    assert_eq!(
        template.to_aspire(),
        "{api.bindings.http.url} {pg.connectionString} {p.value} {{x}} \
         {api.bindings.http.targetPort} {api.bindings.http.host}:{api.bindings.http.port}"
    );
}

/// A snapshot with a process `api`, a container `pg` on network `app`, a container `other`
/// on another network, a secret Parameter and a plain one.
fn snapshot(context: Context) -> Snapshot {
    let mut s = Snapshot::new(context);
    s.resource("api").endpoints.insert(
        "http".into(),
        Some(EndpointTarget {
            scheme: "http".into(),
            location: Location::Host,
            port: 5080,
            target_port: 40001,
        }),
    );
    s.resource("api").endpoints.insert("grpc".into(), None);
    let pg = s.resource("pg");
    pg.endpoints.insert(
        "tcp".into(),
        Some(EndpointTarget {
            scheme: "tcp".into(),
            location: Location::Container {
                name: "pg".into(),
                network: "app".into(),
            },
            port: 15432,
            target_port: 5432,
        }),
    );
    pg.connection_string = Some(
        parse("Host={pg.endpoints.tcp.host};Port={pg.endpoints.tcp.port};Password={pg-password.value}")
            .unwrap(),
    );
    s.resource("other").endpoints.insert(
        "tcp".into(),
        Some(EndpointTarget {
            scheme: "tcp".into(),
            location: Location::Container {
                name: "other".into(),
                network: "elsewhere".into(),
            },
            port: 17000,
            target_port: 7000,
        }),
    );
    s.resource("pg-password").value = Some(Ok(Resolved::secret("s3cr3t")));
    s.resource("region").value = Some(Ok(Resolved::plain("eu")));
    s.resource("missing-key").value = Some(Err("set OPENAI_KEY".into()));
    s.resource("appdata").connection_string =
        Some(parse("{pg.connectionString};Database=appdata").unwrap());
    s
}

#[test]
fn a_process_reaches_everything_at_localhost_and_the_host_port() {
    let s = snapshot(Context::Process);
    let resolved = parse("{api.endpoints.http.url} {pg.endpoints.tcp.hostAndPort} {other.endpoints.tcp.port} {api.endpoints.http.targetPort}")
        .unwrap()
        .resolve(&s)
        .unwrap();
    assert_eq!(
        resolved.text,
        "http://localhost:5080 localhost:15432 17000 40001"
    );
    assert_eq!(resolved.masked, resolved.text);
    assert!(!resolved.has_secret());
}

#[test]
fn a_container_reaches_containers_on_its_network_by_name_and_the_rest_through_the_host() {
    let s = snapshot(Context::Container {
        network: "app".into(),
    });
    let resolved = parse("{pg.endpoints.tcp.url} {api.endpoints.http.url} {other.endpoints.tcp.hostAndPort} {api.endpoints.http.scheme}")
        .unwrap()
        .resolve(&s)
        .unwrap();
    assert_eq!(
        resolved.text,
        "tcp://pg:5432 http://host.docker.internal:5080 host.docker.internal:17000 http"
    );
}

#[test]
fn connection_strings_resolve_in_the_consumers_context_and_mask_secrets() {
    let template = parse("{appdata.connectionString};Region={region.value}").unwrap();
    let from_process = template.resolve(&snapshot(Context::Process)).unwrap();
    assert_eq!(
        from_process.text,
        "Host=localhost;Port=15432;Password=s3cr3t;Database=appdata;Region=eu"
    );
    assert_eq!(
        from_process.masked,
        "Host=localhost;Port=15432;Password=*****;Database=appdata;Region=eu"
    );
    assert!(from_process.has_secret());
    let from_container = template
        .resolve(&snapshot(Context::Container {
            network: "app".into(),
        }))
        .unwrap();
    assert_eq!(
        from_container.masked,
        "Host=pg;Port=5432;Password=*****;Database=appdata;Region=eu"
    );
}

#[test]
fn unresolvable_references_say_which_and_why() {
    let s = snapshot(Context::Process);
    let cases = [
        (
            "{nope.value}",
            "{nope.value}: resource `nope` does not exist yet",
        ),
        (
            "{api.endpoints.metrics.url}",
            "{api.endpoints.metrics.url}: resource `api` has no endpoint `metrics`; add it to \
             `api`'s spec.endpoints or fix the name",
        ),
        (
            "{api.endpoints.grpc.url}",
            "{api.endpoints.grpc.url}: endpoint `grpc` of `api` has no port allocated yet",
        ),
        (
            "{api.connectionString}",
            "{api.connectionString}: resource `api` has no connection string",
        ),
        (
            "{api.value}",
            "{api.value}: `api` is not a Parameter, so it has no value",
        ),
        (
            "x {missing-key.value}",
            "{missing-key.value}: set OPENAI_KEY",
        ),
    ];
    for (text, message) in cases {
        let error = parse(text).unwrap().resolve(&s).unwrap_err();
        assert_eq!(error.to_string(), message);
    }
}

#[test]
fn connection_string_cycles_fail_instead_of_recursing_forever() {
    let mut s = Snapshot::new(Context::Process);
    s.resource("a").connection_string = Some(parse("{b.connectionString}").unwrap());
    s.resource("b").connection_string = Some(parse("x{a.connectionString}").unwrap());
    let error = parse("{a.connectionString}")
        .unwrap()
        .resolve(&s)
        .unwrap_err();
    assert!(error.to_string().contains("refers to itself"), "{error}");
}

fn ep(name: &str, scheme: &str, url: &str) -> ReferencedEndpoint {
    ReferencedEndpoint {
        name: name.into(),
        scheme: scheme.into(),
        url: url.into(),
    }
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn references_inject_aspire_service_discovery_variables() {
    let env = reference_env(
        "basketservice",
        None,
        &[
            ep("http", "http", "http://localhost:5001"),
            ep("https", "https", "https://localhost:5002"),
            ep("admin", "http", "http://localhost:5003"),
        ],
    );
    assert_eq!(
        pairs(&env),
        [
            ("BASKETSERVICE_HTTP", "http://localhost:5001"),
            ("services__basketservice__http__0", "http://localhost:5001"),
            ("BASKETSERVICE_HTTPS", "https://localhost:5002"),
            (
                "services__basketservice__https__0",
                "https://localhost:5002"
            ),
            ("BASKETSERVICE_ADMIN", "http://localhost:5003"),
            ("services__basketservice__http__1", "http://localhost:5003"),
        ]
    );
}

#[test]
fn references_inject_the_connection_string_first_and_encode_names() {
    let env = reference_env(
        "api-gw",
        Some("Host=x"),
        &[ep("http-2", "http", "http://localhost:1")],
    );
    assert_eq!(
        pairs(&env),
        [
            ("ConnectionStrings__api-gw", "Host=x"),
            ("API_GW_HTTP_2", "http://localhost:1"),
            ("services__api-gw__http__0", "http://localhost:1"),
        ]
    );
    assert_eq!(inject::encode("9-service"), "_9_service");
    assert_eq!(inject::encode("Already_Valid"), "Already_Valid");
    assert!(endpoints_injected(true, true));
    assert!(endpoints_injected(false, false));
    assert!(!endpoints_injected(false, true));
}

fn arb_reference() -> impl Strategy<Value = Reference> {
    let resource = "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?";
    let endpoint_name = "[A-Za-z0-9_-]{1,8}";
    let property = proptest::sample::select(EndpointProperty::ALL.to_vec());
    prop_oneof![
        (resource, endpoint_name, property).prop_map(|(r, e, p)| endpoint(&r, &e, p)),
        resource.prop_map(|r| connection_string(&r)),
        resource.prop_map(|r| value(&r)),
    ]
}

fn arb_template() -> impl Strategy<Value = Template> {
    let segment = prop_oneof![
        "[^\\x00]{0,6}".prop_map(Segment::Literal),
        "[{}a.]{1,4}".prop_map(Segment::Literal),
        arb_reference().prop_map(Segment::Reference),
    ];
    proptest::collection::vec(segment, 0..6).prop_map(Template::new)
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics_and_errors_point_inside_the_input(text in "\\PC{0,40}|[{}a-z.-]{0,30}") {
        if let Err(error) = parse(&text) {
            prop_assert!(error.offset <= text.len());
            prop_assert!(text.is_char_boundary(error.offset));
            prop_assert!(error.column >= 1 && error.column <= text.chars().count() + 1);
        }
    }

    #[test]
    fn printing_and_parsing_a_template_gives_it_back(template in arb_template()) {
        let text = template.to_string();
        prop_assert_eq!(parse(&text), Ok(template.clone()));
        // The Aspire form of a template without hostAndPort has the same shape.
        prop_assert!(parse(&template.to_aspire().replace(".bindings.", ".endpoints.")).is_ok());
    }
}

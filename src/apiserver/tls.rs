//! TLS material for the API server: a long-lived CA kept in the state dir (its PEM goes
//! into the kubeconfig as `certificate-authority-data`) and a fresh leaf certificate for
//! the loopback addresses, issued at every start.
//!
//! kube-rs (rustls-webpki) refuses a CA used directly as the server certificate, so the
//! leaf is a separate end-entity certificate. Keys are ECDSA P-256: generating them takes
//! well under a millisecond, where RSA-4096 costs most of a second per start.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, anyhow};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};

const CA_CERT_FILE: &str = "ca.crt";
const CA_KEY_FILE: &str = "ca.key";
/// The CA subject. The leaf's issuer name is rebuilt from this constant on every start
/// (rcgen cannot read a stored certificate's subject without its `x509-parser` feature),
/// so it must never change for an existing state dir.
const CA_COMMON_NAME: &str = "kaspire-ca";
const ORGANIZATION: &str = "kaspire";
const CA_VALIDITY_YEARS: i16 = 10;
const LEAF_VALIDITY_YEARS: i16 = 1;

/// The server's TLS setup: the CA clients must trust and a ready rustls server config.
pub struct TlsMaterial {
    /// PEM of the CA certificate, for `certificate-authority-data` in kubeconfigs.
    pub ca_pem: String,
    /// Serves the leaf certificate and offers ALPN `h2` (kubectl) and `http/1.1` (kube-rs).
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Loads the CA (ECDSA P-256, `ca.crt` + `ca.key` in `dir`, key file mode 0600) or creates it on first use,
/// and issues a fresh leaf for 127.0.0.1/localhost (serverAuth EKU, signed by the CA) each start.
/// ALPN: h2 and http/1.1. Must take a few ms, not hundreds (no RSA).
pub fn load_or_create(dir: &Path) -> anyhow::Result<TlsMaterial> {
    fs::create_dir_all(dir)
        .with_context(|| format!("creating the state directory {}", dir.display()))?;
    let (ca_pem, ca_key) = load_or_create_ca(dir)?;
    let ca_params = ca_params()?;
    let issuer = Issuer::from_params(&ca_params, &ca_key);

    let leaf_key =
        KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the server key")?;
    let leaf = leaf_params()?
        .signed_by(&leaf_key, &issuer)
        .context("signing the server certificate")?;
    let leaf_der = leaf.der().clone();

    let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
        .map_err(|e| corrupt(dir, CA_CERT_FILE, e))?;
    check_chain(dir, &ca_der, &leaf_der)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(vec![leaf_der], key_der)
        .context("building the TLS server configuration")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

    Ok(TlsMaterial {
        ca_pem,
        server_config: Arc::new(config),
    })
}

/// Returns the CA certificate PEM and its key, reading them from `dir` or creating both.
fn load_or_create_ca(dir: &Path) -> anyhow::Result<(String, KeyPair)> {
    let cert_path = dir.join(CA_CERT_FILE);
    let key_path = dir.join(CA_KEY_FILE);
    // The certificate is written last, so its presence means the pair is complete; a key
    // left without a certificate by an interrupted first start is simply replaced.
    if cert_path.exists() {
        let ca_pem = fs::read_to_string(&cert_path).map_err(|e| corrupt(dir, CA_CERT_FILE, e))?;
        let key_pem = fs::read_to_string(&key_path).map_err(|e| corrupt(dir, CA_KEY_FILE, e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| corrupt(dir, CA_KEY_FILE, e))?;
        return Ok((ca_pem, key));
    }

    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).context("generating the CA key")?;
    let cert = ca_params()?
        .self_signed(&key)
        .context("self-signing the CA certificate")?;
    let ca_pem = cert.pem();
    write_atomically(&key_path, key.serialize_pem().as_bytes(), 0o600)?;
    write_atomically(&cert_path, ca_pem.as_bytes(), 0o644)?;
    Ok((ca_pem, key))
}

/// The CA's parameters. Deterministic apart from validity, because the leaf's issuer
/// name is taken from them rather than from the stored certificate.
fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params
        .distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANIZATION);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    set_validity(&mut params, CA_VALIDITY_YEARS)?;
    Ok(params)
}

fn leaf_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(vec![
        "127.0.0.1".to_string(),
        "localhost".to_string(),
        "::1".to_string(),
    ])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "kaspire-apiserver");
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANIZATION);
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, LEAF_VALIDITY_YEARS)?;
    Ok(params)
}

/// Valid from yesterday (tolerates a client clock running a little behind) for `years` years.
fn set_validity(params: &mut CertificateParams, years: i16) -> anyhow::Result<()> {
    let start = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .yesterday()?;
    let end = start.checked_add(jiff::Span::new().years(years))?;
    let ymd = |d: jiff::civil::Date| {
        rcgen::date_time_ymd(d.year().into(), d.month() as u8, d.day() as u8)
    };
    params.not_before = ymd(start);
    params.not_after = ymd(end);
    Ok(())
}

/// Verifies the new leaf against the stored CA exactly as kube-rs will (rustls-webpki), so
/// a `ca.key` that does not belong to `ca.crt`, or an expired CA, fails here with advice
/// instead of as an opaque handshake error in every client.
fn check_chain(
    dir: &Path,
    ca: &CertificateDer<'static>,
    leaf: &CertificateDer<'static>,
) -> anyhow::Result<()> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| corrupt(dir, CA_CERT_FILE, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier =
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .context("building the certificate verifier")?;
    let name = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST).into());
    rustls::client::danger::ServerCertVerifier::verify_server_cert(&*verifier, leaf, &[], &name, &[], UnixTime::now())
        .map_err(|e| {
            anyhow!(
                "the CA in {} cannot issue a valid server certificate ({e}); \
                 delete {CA_CERT_FILE} and {CA_KEY_FILE} there to create a new CA, then re-fetch the kubeconfig",
                dir.display()
            )
        })?;
    Ok(())
}

/// The error for an unreadable or corrupt CA file: names it and says how to recover.
fn corrupt(dir: &Path, file: &str, err: impl std::fmt::Display) -> anyhow::Error {
    let path = dir.join(file);
    anyhow!(
        "cannot load the API server CA from {}: {err}; delete {} and {} to create a new CA \
         (kubeconfigs issued for the old CA stop working)",
        path.display(),
        dir.join(CA_CERT_FILE).display(),
        dir.join(CA_KEY_FILE).display()
    )
}

/// Writes via a temporary file and rename, so a crash never leaves a half-written file
/// that would be mistaken for a corrupt CA on the next start.
fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    // `mode` only applies when the file is created; a stale temp file keeps its old mode.
    #[cfg(unix)]
    fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(mode))
        .with_context(|| format!("restricting {}", tmp.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("moving {} into place", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn client_config(ca_pem: &str) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        config
    }

    #[test]
    fn second_start_reuses_the_stored_ca() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let second = load_or_create(dir.path()).unwrap();
        assert_eq!(first.ca_pem, second.ca_pem);
        assert!(first.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }

    #[cfg(unix)]
    #[test]
    fn ca_key_is_private_to_the_owner() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        let mode = fs::metadata(dir.path().join(CA_KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join("ca.key.tmp").exists());
    }

    #[test]
    fn corrupt_ca_names_the_file_and_says_to_delete_it() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        fs::write(dir.path().join(CA_KEY_FILE), "not a key").unwrap();
        let err = load_or_create(dir.path())
            .err()
            .expect("a corrupt key must fail")
            .to_string();
        assert!(err.contains("ca.key") && err.contains("delete"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        fs::write(dir.path().join(CA_CERT_FILE), "garbage").unwrap();
        let err = load_or_create(dir.path())
            .err()
            .expect("a corrupt cert must fail")
            .to_string();
        assert!(err.contains("ca.crt") && err.contains("delete"), "{err}");
    }

    #[test]
    fn mismatched_ca_key_is_reported() {
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        load_or_create(a.path()).unwrap();
        load_or_create(b.path()).unwrap();
        fs::copy(b.path().join(CA_KEY_FILE), a.path().join(CA_KEY_FILE)).unwrap();
        let err = load_or_create(a.path())
            .err()
            .expect("a foreign key must fail")
            .to_string();
        assert!(err.contains("delete ca.crt and ca.key"), "{err}");
    }

    #[test]
    fn missing_key_next_to_a_certificate_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create(dir.path()).unwrap();
        fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = load_or_create(dir.path())
            .err()
            .expect("a missing key must fail")
            .to_string();
        assert!(err.contains("ca.key"), "{err}");
    }

    #[tokio::test]
    async fn client_trusting_only_the_ca_negotiates_h2() {
        let dir = tempfile::tempdir().unwrap();
        let material = load_or_create(dir.path()).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(material.server_config.clone());
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(&material.ca_pem)));

        for host in ["127.0.0.1", "localhost", "::1"] {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let server = tokio::spawn({
                let acceptor = acceptor.clone();
                async move {
                    let mut tls = acceptor.accept(server_io).await.unwrap();
                    let mut buf = [0u8; 4];
                    tls.read_exact(&mut buf).await.unwrap();
                    tls.write_all(&buf).await.unwrap();
                    tls.flush().await.unwrap();
                }
            });
            let name = ServerName::try_from(host.to_string()).unwrap();
            let mut tls = connector.connect(name, client_io).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]), "{host}");
            tls.write_all(b"ping").await.unwrap();
            let mut buf = [0u8; 4];
            tls.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"ping");
            server.await.unwrap();
        }
    }

    #[tokio::test]
    async fn http1_only_client_gets_http1() {
        let dir = tempfile::tempdir().unwrap();
        let material = load_or_create(dir.path()).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(material.server_config.clone());
        let mut config = client_config(&material.ca_pem);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move { acceptor.accept(server_io).await.map(|_| ()) });
        let tls = connector
            .connect(ServerName::try_from("127.0.0.1").unwrap(), client_io)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        server.await.unwrap().unwrap();
    }
}

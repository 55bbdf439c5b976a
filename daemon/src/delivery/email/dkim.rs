//! DKIM signing (RFC 6376; Ed25519 per RFC 8463) of every built message, with lettre's
//! signer. The key is read once, from an unencrypted PEM file: `RSA PRIVATE KEY`
//! (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or Ed25519). The algorithm follows the key;
//! a configured `algorithm` must agree with it.

use std::path::PathBuf;

use base64::Engine as _;
use lettre::message::dkim::{
    dkim_sign, DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use lettre::message::Mailbox;
use lettre::Message;
use rsa::pkcs1::{DecodeRsaPrivateKey, EncodeRsaPrivateKey};
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, ObjectIdentifier, PrivateKeyInfo};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use serde::Deserialize;

use crate::delivery::ChannelConfigError;

/// The header fields every signature covers (`h=`), in this order. A field a message
/// lacks (List-Unsubscribe and List-Unsubscribe-Post on transactional mail) is still
/// listed, i.e. signed as absent: adding it later breaks the signature (RFC 6376 5.4).
pub const SIGNED_HEADERS: [&str; 7] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// Smallest RSA key accepted (RFC 8301: verifiers may ignore smaller ones).
pub const MIN_RSA_BITS: usize = 1024;
/// RSA keys below this size get a check-config warning (RFC 8301: SHOULD be 2048).
pub const GOOD_RSA_BITS: usize = 2048;

const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

/// `[email.dkim]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimSettings {
    /// The selector: the key's record is `{selector}._domainkey.{domain}`.
    pub selector: String,
    /// The signing domain (`d=`); the From address must be in it or a subdomain of it.
    pub domain: String,
    /// The private key (PEM).
    pub key_file: PathBuf,
    /// `"rsa-sha256"` or `"ed25519-sha256"`; unset = what the key is.
    #[serde(default)]
    pub algorithm: Option<DkimAlgorithm>,
}

/// The signature algorithm (`a=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DkimAlgorithm {
    #[serde(rename = "rsa-sha256")]
    RsaSha256,
    #[serde(rename = "ed25519-sha256")]
    Ed25519Sha256,
}

impl DkimAlgorithm {
    /// The name used in `a=` and in the config.
    pub fn name(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa-sha256",
            DkimAlgorithm::Ed25519Sha256 => "ed25519-sha256",
        }
    }

    /// The key type (`k=`) of the DNS record.
    pub fn key_type(self) -> &'static str {
        match self {
            DkimAlgorithm::RsaSha256 => "rsa",
            DkimAlgorithm::Ed25519Sha256 => "ed25519",
        }
    }
}

/// A private key read from PEM: what lettre takes, and the public half for the record.
pub struct ParsedKey {
    pub algorithm: DkimAlgorithm,
    /// RSA modulus size; `None` for Ed25519.
    pub rsa_bits: Option<usize>,
    /// `p=` of the DNS record: SubjectPublicKeyInfo DER for RSA, the raw 32 bytes for
    /// Ed25519 (RFC 8463).
    pub public: Vec<u8>,
    /// PKCS#1 PEM (RSA) or base64 of the 32-byte seed (Ed25519), as lettre wants it.
    lettre_text: String,
}

impl std::fmt::Debug for ParsedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedKey")
            .field("algorithm", &self.algorithm)
            .field("rsa_bits", &self.rsa_bits)
            .finish_non_exhaustive()
    }
}

fn rsa_key(key: RsaPrivateKey) -> Result<ParsedKey, String> {
    let bits = key.size() * 8;
    if bits < MIN_RSA_BITS {
        return Err(format!(
            "the RSA key has {bits} bits; DKIM needs at least {MIN_RSA_BITS} (make a 2048-bit one)"
        ));
    }
    let public = RsaPublicKey::from(&key)
        .to_public_key_der()
        .map_err(|e| format!("cannot encode the public key: {e}"))?
        .as_bytes()
        .to_vec();
    let pkcs1 = key
        .to_pkcs1_pem(rsa::pkcs8::LineEnding::LF)
        .map_err(|e| format!("cannot re-encode the key: {e}"))?;
    Ok(ParsedKey {
        algorithm: DkimAlgorithm::RsaSha256,
        rsa_bits: Some(bits),
        public,
        lettre_text: pkcs1.to_string(),
    })
}

fn ed25519_key(info: &PrivateKeyInfo<'_>) -> Result<ParsedKey, String> {
    // CurvePrivateKey ::= OCTET STRING (RFC 8410): 0x04 0x20 and the 32-byte seed.
    let seed: [u8; 32] = match info.private_key {
        [0x04, 0x20, rest @ ..] => rest
            .try_into()
            .map_err(|_| "the Ed25519 private key is not 32 bytes".to_string())?,
        _ => return Err("the Ed25519 private key is not an OCTET STRING of 32 bytes".into()),
    };
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    // A PKCS#8 v2 file carries the public key too; it must be this key's.
    if let Some(given) = info.public_key {
        if given != public {
            return Err("the file's Ed25519 public key does not belong to its private key".into());
        }
    }
    Ok(ParsedKey {
        algorithm: DkimAlgorithm::Ed25519Sha256,
        rsa_bits: None,
        public: public.to_vec(),
        lettre_text: base64::engine::general_purpose::STANDARD.encode(seed),
    })
}

/// Reads an unencrypted PEM private key: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY`
/// (PKCS#8 v1 or v2) holding an RSA (at least 1024 bits) or an Ed25519 key.
pub fn parse_key(pem: &str) -> Result<ParsedKey, String> {
    let (label, der) = rsa::pkcs8::der::pem::decode_vec(pem.trim().as_bytes()).map_err(|e| {
        format!("not a PEM private key ({e}); write the key as PEM, e.g. with openssl genpkey")
    })?;
    match label {
        "RSA PRIVATE KEY" => rsa_key(
            RsaPrivateKey::from_pkcs1_der(&der)
                .map_err(|e| format!("not a valid PKCS#1 RSA key: {e}"))?,
        ),
        "PRIVATE KEY" => {
            let info = PrivateKeyInfo::try_from(der.as_slice())
                .map_err(|e| format!("not a valid PKCS#8 key: {e}"))?;
            if info.algorithm.oid == OID_RSA {
                rsa_key(
                    RsaPrivateKey::from_pkcs8_der(&der)
                        .map_err(|e| format!("not a valid PKCS#8 RSA key: {e}"))?,
                )
            } else if info.algorithm.oid == OID_ED25519 {
                ed25519_key(&info)
            } else {
                Err(format!(
                    "a {} key; DKIM signs with RSA or Ed25519",
                    info.algorithm.oid
                ))
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err(
            "the key is encrypted; the daemon reads it unattended: write it unencrypted (openssl pkey -in old.pem -out key.pem) and protect the file (chmod 600)".into(),
        ),
        other => Err(format!(
            "a PEM \"{other}\", not a private key; use \"RSA PRIVATE KEY\" or \"PRIVATE KEY\" (openssl genpkey)"
        )),
    }
}

/// One DNS label of a selector or domain: letters, digits, hyphens inside, ≤ 63.
fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// A selector: one or more dot-separated labels (RFC 6376 3.1).
pub fn valid_selector(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(valid_label)
}

/// A signing domain: at least two labels, no trailing dot, the last not all digits.
pub fn valid_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| valid_label(l))
        && labels
            .last()
            .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

/// `from_domain` equals `domain` or is a subdomain of it (DMARC relaxed alignment).
pub fn aligned(from_domain: &str, domain: &str) -> bool {
    let (f, d) = (
        from_domain.to_ascii_lowercase(),
        domain.to_ascii_lowercase(),
    );
    f == d || f.ends_with(&format!(".{d}"))
}

/// Signs messages with one key; built once at start.
pub struct DkimSigner {
    config: DkimConfig,
    algorithm: DkimAlgorithm,
    rsa_bits: Option<usize>,
    selector: String,
    domain: String,
    public: Vec<u8>,
}

impl std::fmt::Debug for DkimSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DkimSigner")
            .field("algorithm", &self.algorithm)
            .field("selector", &self.selector)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl DkimSigner {
    /// Checks the settings against the From mailbox and reads the key. Every refusal
    /// names its `email.dkim.*` key (or `email.from`) and the fix.
    pub fn load(settings: &DkimSettings, from: &Mailbox) -> Result<DkimSigner, ChannelConfigError> {
        let err = ChannelConfigError::new;
        let selector = settings.selector.trim();
        if !valid_selector(selector) {
            return Err(err(
                "email.dkim.selector",
                format!(
                    "{:?} is not a selector; write DNS labels of letters, digits and hyphens, e.g. \"sb2026\"",
                    settings.selector
                ),
            ));
        }
        let domain = settings.domain.trim().to_ascii_lowercase();
        if !valid_domain(&domain) {
            return Err(err(
                "email.dkim.domain",
                format!(
                    "{:?} is not a domain name; write the domain you publish the key in, e.g. \"shop.example\"",
                    settings.domain
                ),
            ));
        }
        let from_domain = from.email.domain();
        if !aligned(from_domain, &domain) {
            return Err(err(
                "email.dkim.domain",
                format!(
                    "{domain:?} does not cover the From domain {from_domain:?}; set it to {from_domain:?} (or a parent domain of it), or change email.from"
                ),
            ));
        }
        let path = &settings.key_file;
        let text = std::fs::read_to_string(path).map_err(|e| {
            err(
                "email.dkim.key_file",
                format!(
                    "cannot read {}: {e}; check the path and that the daemon's user may read it",
                    path.display()
                ),
            )
        })?;
        let key = parse_key(&text)
            .map_err(|why| err("email.dkim.key_file", format!("{}: {why}", path.display())))?;
        if let Some(wanted) = settings.algorithm {
            if wanted != key.algorithm {
                return Err(err(
                    "email.dkim.algorithm",
                    format!(
                        "is {:?} but {} holds an {} key; set algorithm = {:?} or leave it out",
                        wanted.name(),
                        path.display(),
                        key.algorithm.key_type(),
                        key.algorithm.name()
                    ),
                ));
            }
        }
        let lettre_algorithm = match key.algorithm {
            DkimAlgorithm::RsaSha256 => DkimSigningAlgorithm::Rsa,
            DkimAlgorithm::Ed25519Sha256 => DkimSigningAlgorithm::Ed25519,
        };
        let signing_key = DkimSigningKey::new(&key.lettre_text, lettre_algorithm).map_err(|e| {
            err(
                "email.dkim.key_file",
                format!("{}: the signer refused the key: {e}", path.display()),
            )
        })?;
        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            selector.to_string(),
            domain.clone(),
            signing_key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(DkimSigner {
            config,
            algorithm: key.algorithm,
            rsa_bits: key.rsa_bits,
            selector: selector.to_string(),
            domain,
            public: key.public,
        })
    }

    /// Adds the `DKIM-Signature` header (relaxed/relaxed, `h=` [`SIGNED_HEADERS`]).
    pub fn sign(&self, message: &mut Message) {
        dkim_sign(message, &self.config);
    }

    /// The message with its `DKIM-Signature` header (see [`DkimSigner::sign`]).
    pub fn signed(&self, mut message: Message) -> Message {
        self.sign(&mut message);
        message
    }

    pub fn algorithm(&self) -> DkimAlgorithm {
        self.algorithm
    }

    /// The RSA modulus size; `None` for Ed25519.
    pub fn rsa_bits(&self) -> Option<usize> {
        self.rsa_bits
    }

    /// Where the TXT record goes: `{selector}._domainkey.{domain}`.
    pub fn record_name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain)
    }

    /// The TXT record's value: `v=DKIM1; k=rsa; p=<base64>` (or `k=ed25519`).
    pub fn record_value(&self) -> String {
        format!(
            "v=DKIM1; k={}; p={}",
            self.algorithm.key_type(),
            base64::engine::general_purpose::STANDARD.encode(&self.public)
        )
    }
}

#[cfg(test)]
#[path = "dkim_tests.rs"]
mod tests;

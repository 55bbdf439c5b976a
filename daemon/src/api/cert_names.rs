//! The names of a client certificate that `[auth] *_client_names` match: the subject's
//! common names (CN) and the DNS names of the subjectAltName extension, read with a
//! minimal DER walk (the certificate was already verified by the TLS handshake).

/// One DER element: its tag and contents; `None` on malformed input.
fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The elements of a constructed value, in order (stops at the first malformed one).
fn elements(mut input: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    std::iter::from_fn(move || {
        let (tag, content, rest) = element(input)?;
        input = rest;
        Some((tag, content))
    })
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
/// 2.5.4.3 (id-at-commonName).
const CN: &[u8] = &[0x55, 0x04, 0x03];
/// 2.5.29.17 (id-ce-subjectAltName).
const SAN: &[u8] = &[0x55, 0x1d, 0x11];
/// `[3] EXPLICIT Extensions` of TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// `[2] IMPLICIT IA5String` dNSName of GeneralName.
const DNS_NAME: u8 = 0x82;

/// The subject CNs and DNS SANs of a DER certificate (empty if it does not parse).
pub fn names(der: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let Some((SEQUENCE, cert, _)) = element(der) else {
        return out;
    };
    let Some((SEQUENCE, tbs)) = elements(cert).next() else {
        return out;
    };
    // [0] version (optional), serial, signature, issuer, validity, subject, spki, ...
    let fields: Vec<(u8, &[u8])> = elements(tbs).collect();
    let skip = usize::from(fields.first().is_some_and(|(t, _)| *t == 0xa0));
    if let Some((SEQUENCE, subject)) = fields.get(skip + 4) {
        for (_, rdn) in elements(subject).filter(|(t, _)| *t == SET) {
            for (_, attr) in elements(rdn).filter(|(t, _)| *t == SEQUENCE) {
                let mut parts = elements(attr);
                if let (Some((OID, CN)), Some((_, value))) = (parts.next(), parts.next()) {
                    out.push(String::from_utf8_lossy(value).into_owned());
                }
            }
        }
    }
    for (_, exts) in fields.iter().filter(|(t, _)| *t == EXTENSIONS) {
        let Some((SEQUENCE, list)) = elements(exts).next() else {
            continue;
        };
        for (_, ext) in elements(list).filter(|(t, _)| *t == SEQUENCE) {
            let parts: Vec<(u8, &[u8])> = elements(ext).collect();
            if parts.first() != Some(&(OID, SAN)) {
                continue;
            }
            // extnID, critical (optional BOOLEAN), extnValue (OCTET STRING).
            let Some((0x04, value)) = parts.last() else {
                continue;
            };
            if let Some((SEQUENCE, general_names)) = elements(value).next() {
                for (_, name) in elements(general_names).filter(|(t, _)| *t == DNS_NAME) {
                    out.push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cn_and_dns_sans_of_an_rcgen_certificate() {
        let mut params = rcgen::CertificateParams::new(vec![
            "ingest.shop.example".to_string(),
            "127.0.0.1".to_string(),
        ])
        .expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "shop-ingest");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Shop");
        let key = rcgen::KeyPair::generate().expect("key");
        let cert = params.self_signed(&key).expect("cert");
        // The IP SAN is not a DNS name; the organisation is not a CN.
        assert_eq!(
            names(cert.der()),
            vec!["shop-ingest".to_string(), "ingest.shop.example".to_string()]
        );
    }

    #[test]
    fn hand_made_der() {
        // Certificate { tbs { [0]{INTEGER 2}, INTEGER 1, SEQ{}, SEQ{}, SEQ{},
        //   subject SEQ{ SET{ SEQ{ OID 2.5.4.3, UTF8String "ab" } } }, SEQ{} } }
        let subject = [
            0x30, 0x0d, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x02, b'a',
            b'b',
        ];
        let mut tbs = vec![0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x01, 0x01];
        tbs.extend([0x30, 0x00, 0x30, 0x00, 0x30, 0x00]);
        tbs.extend(subject);
        tbs.extend([0x30, 0x00]);
        let mut cert = vec![0x30, tbs.len() as u8];
        cert.extend(&tbs);
        let mut der = vec![0x30, cert.len() as u8];
        der.extend(&cert);
        assert_eq!(names(&der), vec!["ab".to_string()]);
        // Truncated input yields nothing rather than panicking.
        assert!(names(&der[..der.len() - 3]).is_empty());
        assert!(names(&[]).is_empty());
    }
}

//! Private keys: generation (ECDSA P-256/384/521, RSA 2048–4096, Ed25519), loading from PKCS#8,
//! SEC1, PKCS#1 and encrypted PKCS#8 PEM, writing in cfssl's formats, and signing.
//! Pure: bytes in, bytes out; no files, no policy.

use crate::der::oid;
use crate::error::{Error, Result};
use pkcs8::der::{Decode, Encode};
use rcgen::{PublicKeyData, SigningKey};
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

/// A key algorithm and size, as named in cfssl's `"key": {"algo", "size"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgo {
    /// ECDSA on NIST P-256
    EcdsaP256,
    /// ECDSA on NIST P-384
    EcdsaP384,
    /// ECDSA on NIST P-521
    EcdsaP521,
    /// RSA with this modulus size in bits
    Rsa(u32),
    /// Ed25519
    Ed25519,
}

impl KeyAlgo {
    /// cfssl's rules for `{"algo": …, "size": …}` (size 0 = the algorithm's default).
    pub fn from_request(algo: &str, size: u32) -> Result<Self> {
        match algo.to_ascii_lowercase().as_str() {
            "" | "ecdsa" => match size {
                0 | 256 => Ok(KeyAlgo::EcdsaP256),
                384 => Ok(KeyAlgo::EcdsaP384),
                521 => Ok(KeyAlgo::EcdsaP521),
                _ => Err(Error::PrivateKey(2400, "invalid curve".into())),
            },
            "rsa" => match size {
                0 => Ok(KeyAlgo::Rsa(2048)),
                s if s < 2048 => Err(Error::PrivateKey(2400, "RSA key is too weak".into())),
                2048 | 3072 | 4096 => Ok(KeyAlgo::Rsa(size)),
                s if s > 8192 => Err(Error::PrivateKey(2400, "RSA key size too large".into())),
                s => Err(Error::PrivateKey(
                    2400,
                    format!("RSA key size {s} is not supported; use 2048, 3072 or 4096"),
                )),
            },
            "ed25519" => Ok(KeyAlgo::Ed25519),
            _ => Err(Error::PrivateKey(2400, "invalid algorithm".into())),
        }
    }

    /// The name cfssl logs ("ecdsa-256", "rsa-2048", "ed25519").
    pub fn name(&self) -> String {
        match self {
            KeyAlgo::EcdsaP256 => "ecdsa-256".into(),
            KeyAlgo::EcdsaP384 => "ecdsa-384".into(),
            KeyAlgo::EcdsaP521 => "ecdsa-521".into(),
            KeyAlgo::Rsa(b) => format!("rsa-{b}"),
            KeyAlgo::Ed25519 => "ed25519".into(),
        }
    }

    /// The signature algorithm a key of this type signs with (cfssl §7.1).
    pub fn sig_alg(&self) -> SigAlg {
        match self {
            KeyAlgo::EcdsaP256 => SigAlg {
                oid: oid::ECDSA_SHA256,
                name: "ECDSAWithSHA256",
            },
            KeyAlgo::EcdsaP384 => SigAlg {
                oid: oid::ECDSA_SHA384,
                name: "ECDSAWithSHA384",
            },
            KeyAlgo::EcdsaP521 => SigAlg {
                oid: oid::ECDSA_SHA512,
                name: "ECDSAWithSHA512",
            },
            KeyAlgo::Rsa(b) if *b >= 4096 => SigAlg {
                oid: oid::RSA_SHA512,
                name: "SHA512WithRSA",
            },
            KeyAlgo::Rsa(b) if *b >= 3072 => SigAlg {
                oid: oid::RSA_SHA384,
                name: "SHA384WithRSA",
            },
            KeyAlgo::Rsa(_) => SigAlg {
                oid: oid::RSA_SHA256,
                name: "SHA256WithRSA",
            },
            KeyAlgo::Ed25519 => SigAlg {
                oid: oid::ED25519,
                name: "Ed25519",
            },
        }
    }

    fn rcgen_alg(&self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            KeyAlgo::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyAlgo::EcdsaP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyAlgo::EcdsaP521 => &rcgen::PKCS_ECDSA_P521_SHA512,
            KeyAlgo::Rsa(b) if *b >= 4096 => &rcgen::PKCS_RSA_SHA512,
            KeyAlgo::Rsa(b) if *b >= 3072 => &rcgen::PKCS_RSA_SHA384,
            KeyAlgo::Rsa(_) => &rcgen::PKCS_RSA_SHA256,
            KeyAlgo::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }
}

/// A signature algorithm: its OID and Go's name for it (as certinfo prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigAlg {
    /// signature algorithm OID
    pub oid: &'static [u64],
    /// Go's `x509.SignatureAlgorithm` name
    pub name: &'static str,
}

impl SigAlg {
    /// AlgorithmIdentifier DER for this algorithm.
    pub fn identifier(&self) -> Vec<u8> {
        crate::der::algorithm_identifier(self.oid)
    }
}

/// A private key that can sign, with its PKCS#8 form kept for output.
pub struct PrivateKey {
    pair: Pair,
    algo: KeyAlgo,
    pkcs8: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.algo.name())
    }
}

/// What signs: rcgen's key pair for a loaded key (and a generated RSA or Ed25519 one), or a new
/// ECDSA key used as AWS-LC made it. (rcgen's `KeyPair::generate_for` serialises the new key to
/// PKCS#8 and parses it back, and AWS-LC's parser checks the key with one more scalar
/// multiplication: ~10 % of a `gencert` call's instructions.)
enum Pair {
    Rcgen(rcgen::KeyPair),
    NewEcdsa {
        pair: aws_lc_rs::signature::EcdsaKeyPair,
        alg: &'static rcgen::SignatureAlgorithm,
    },
}

impl PublicKeyData for Pair {
    fn der_bytes(&self) -> &[u8] {
        match self {
            Pair::Rcgen(pair) => pair.der_bytes(),
            Pair::NewEcdsa { pair, .. } => {
                use aws_lc_rs::signature::KeyPair;
                pair.public_key().as_ref()
            }
        }
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        match self {
            Pair::Rcgen(pair) => pair.algorithm(),
            Pair::NewEcdsa { alg, .. } => alg,
        }
    }
}

impl SigningKey for Pair {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        match self {
            Pair::Rcgen(pair) => pair.sign(msg),
            Pair::NewEcdsa { pair, .. } => pair
                .sign(&aws_lc_rs::rand::SystemRandom::new(), msg)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(|_| rcgen::Error::RingUnspecified),
        }
    }
}

fn gen_err(e: impl std::fmt::Display) -> Error {
    Error::PrivateKey(2400, format!("Failed to new private key: {e}"))
}

fn parse_err() -> Error {
    Error::PrivateKey(2003, "Failed to parse private key".into())
}

const EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
const ED25519_OID: &str = "1.3.101.112";
const P256: &str = "1.2.840.10045.3.1.7";
const P384: &str = "1.3.132.0.34";
const P521: &str = "1.3.132.0.35";

impl PrivateKey {
    /// Generates a fresh key.
    pub fn generate(algo: KeyAlgo) -> Result<Self> {
        let pkcs8: Vec<u8> = match algo {
            KeyAlgo::Rsa(bits) => {
                use aws_lc_rs::encoding::AsDer;
                let size = match bits {
                    2048 => aws_lc_rs::rsa::KeySize::Rsa2048,
                    3072 => aws_lc_rs::rsa::KeySize::Rsa3072,
                    4096 => aws_lc_rs::rsa::KeySize::Rsa4096,
                    _ => return Err(Error::PrivateKey(2400, "unsupported RSA key size".into())),
                };
                let kp = aws_lc_rs::rsa::KeyPair::generate(size).map_err(gen_err)?;
                kp.as_der().map_err(gen_err)?.as_ref().to_vec()
            }
            KeyAlgo::EcdsaP256 | KeyAlgo::EcdsaP384 | KeyAlgo::EcdsaP521 => {
                // The new pair is used as is (see `Pair`); its PKCS#8 v1 is what rcgen wrote.
                use aws_lc_rs::signature as s;
                let signing = match algo {
                    KeyAlgo::EcdsaP256 => &s::ECDSA_P256_SHA256_ASN1_SIGNING,
                    KeyAlgo::EcdsaP384 => &s::ECDSA_P384_SHA384_ASN1_SIGNING,
                    _ => &s::ECDSA_P521_SHA512_ASN1_SIGNING,
                };
                let pair = s::EcdsaKeyPair::generate(signing).map_err(gen_err)?;
                let pkcs8 = Zeroizing::new(pair.to_pkcs8v1().map_err(gen_err)?.as_ref().to_vec());
                let pair = Pair::NewEcdsa {
                    pair,
                    alg: algo.rcgen_alg(),
                };
                return Ok(PrivateKey { pair, algo, pkcs8 });
            }
            // Through from_pkcs8, which normalises Ed25519 to PKCS#8 v1.
            KeyAlgo::Ed25519 => rcgen::KeyPair::generate_for(algo.rcgen_alg())
                .map_err(gen_err)?
                .serialize_der(),
        };
        Self::from_pkcs8(pkcs8)
    }

    /// Loads a plaintext PKCS#8 DER key, detecting its algorithm (and RSA size).
    pub fn from_pkcs8(pkcs8: Vec<u8>) -> Result<Self> {
        let pkcs8 = Zeroizing::new(pkcs8);
        let info = pkcs8::PrivateKeyInfo::from_der(&pkcs8).map_err(|_| parse_err())?;
        let alg_oid = info.algorithm.oid.to_string();
        let algo = match alg_oid.as_str() {
            EC_PUBLIC_KEY => {
                let curve = info
                    .algorithm
                    .parameters_oid()
                    .map_err(|_| Error::PrivateKey(2400, "invalid curve".into()))?
                    .to_string();
                match curve.as_str() {
                    P256 => KeyAlgo::EcdsaP256,
                    P384 => KeyAlgo::EcdsaP384,
                    P521 => KeyAlgo::EcdsaP521,
                    _ => return Err(Error::PrivateKey(2400, "invalid curve".into())),
                }
            }
            RSA_ENCRYPTION => {
                let kp = aws_lc_rs::rsa::KeyPair::from_pkcs8(&pkcs8).map_err(rsa_reject)?;
                let bits = (kp.public_modulus_len() * 8) as u32;
                if bits < 2048 {
                    return Err(Error::PrivateKey(2400, "RSA key is too weak".into()));
                }
                KeyAlgo::Rsa(bits)
            }
            ED25519_OID => {
                // Normalise to PKCS#8 v1: OpenSSL 3.0 refuses v2 (with the public key) for Ed25519.
                let kp = aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8)
                    .map_err(|_| parse_err())?;
                let v1 = kp.to_pkcs8v1().map_err(|_| parse_err())?;
                let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(v1.as_ref().to_vec()));
                let pair = rcgen::KeyPair::from_der_and_sign_algo(&der, &rcgen::PKCS_ED25519)
                    .map_err(|_| parse_err())?;
                return Ok(PrivateKey {
                    pair: Pair::Rcgen(pair),
                    algo: KeyAlgo::Ed25519,
                    pkcs8: Zeroizing::new(v1.as_ref().to_vec()),
                });
            }
            _ => {
                return Err(Error::PrivateKey(
                    2200,
                    "Private key algorithm is not RSA or ECC or Ed25519".into(),
                ));
            }
        };
        // rcgen's PKCS#8 entry point: its `from_der_and_sign_algo` also tries every ECDSA key as
        // SEC1 (aws-lc-rs `from_private_key_der` evaluates both parses), and the failed one set
        // up AWS-LC's error queue in every call that loads a CA key.
        let der = PrivatePkcs8KeyDer::from(pkcs8.to_vec());
        let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, algo.rcgen_alg())
            .map_err(|_| parse_err())?;
        Ok(PrivateKey {
            pair: Pair::Rcgen(pair),
            algo,
            pkcs8,
        })
    }

    /// Loads a key from PEM text: PKCS#8 ("PRIVATE KEY", "Ed25519 PRIVATE KEY"), SEC1
    /// ("EC PRIVATE KEY", leading "EC PARAMETERS" skipped), PKCS#1 ("RSA PRIVATE KEY") or
    /// encrypted PKCS#8 ("ENCRYPTED PRIVATE KEY", needs `passphrase`).
    pub fn from_pem(text: &[u8], passphrase: Option<&[u8]>) -> Result<Self> {
        let blocks = pem::parse_many(text).map_err(|_| no_pem())?;
        let block = blocks
            .into_iter()
            .find(|b| b.tag() != "EC PARAMETERS")
            .ok_or_else(no_pem)?;
        if block
            .headers()
            .get("Proc-Type")
            .is_some_and(|v| v.contains("ENCRYPTED"))
        {
            // cfssl compat: legacy OpenSSL PEM encryption is reported as 2100.
            return Err(Error::PrivateKey(2100, "Private key is encrypted.".into()));
        }
        let der = block.contents().to_vec();
        match block.tag() {
            "ENCRYPTED PRIVATE KEY" => {
                let Some(pass) = passphrase else {
                    return Err(Error::PrivateKey(
                        2100,
                        "Private key is encrypted. (give the passphrase with -ca-key-passphrase env:VAR or file:PATH)".into(),
                    ));
                };
                let enc = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|_| parse_err())?;
                let doc = enc.decrypt(pass).map_err(|_| {
                    Error::PrivateKey(
                        2003,
                        "Failed to decrypt private key: wrong passphrase?".into(),
                    )
                })?;
                Self::from_pkcs8(doc.as_bytes().to_vec())
            }
            // cfssl compat: cfssl ignores the label and tries every format; kpki tries the
            // labelled one first and keeps its error (e.g. "too weak") when nothing else fits.
            "EC PRIVATE KEY" => Self::from_sec1(&der).or_else(|e| Self::any_or(&der, e)),
            "RSA PRIVATE KEY" => Self::from_pkcs1(&der).or_else(|e| Self::any_or(&der, e)),
            _ => Self::from_der_any(&der),
        }
    }

    /// `from_der_any`, or `err` when that fails too (a mislabelled PEM block).
    fn any_or(der: &[u8], err: Error) -> Result<Self> {
        Self::from_der_any(der).map_err(|_| err)
    }

    /// Loads DER trying PKCS#8, then PKCS#1, then SEC1 (cfssl's order). An RSA key refused for
    /// its size keeps that error ("too weak", "too large") rather than SEC1's parse failure.
    pub fn from_der_any(der: &[u8]) -> Result<Self> {
        if pkcs8::PrivateKeyInfo::from_der(der).is_ok() {
            return Self::from_pkcs8(der.to_vec());
        }
        Self::from_pkcs1(der).or_else(|rsa| {
            Self::from_sec1(der).map_err(|ec| if rsa.code() == 2400 { rsa } else { ec })
        })
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self> {
        use aws_lc_rs::encoding::AsDer;
        let kp = aws_lc_rs::rsa::KeyPair::from_der(der).map_err(rsa_reject)?;
        Self::from_pkcs8(kp.as_der().map_err(|_| parse_err())?.as_ref().to_vec())
    }

    /// SEC1 ("EC PRIVATE KEY") DER, wrapped into PKCS#8 as it stands so that aws-lc parses and
    /// checks the key once (it used to be parsed, checked and re-encoded, then parsed and checked
    /// again: two scalar multiplications per CA key load). The curve comes from the key's
    /// parameters, or from the scalar's length when a key omits them; other curves are refused.
    fn from_sec1(der: &[u8]) -> Result<Self> {
        use pkcs8::der::asn1::{AnyRef, ObjectIdentifier};
        let ec = sec1::EcPrivateKey::from_der(der).map_err(|_| parse_err())?;
        let curve = match ec.parameters.and_then(|p| p.named_curve()) {
            Some(oid) => oid,
            None => ObjectIdentifier::new_unwrap(match ec.private_key.len() {
                32 => P256,
                48 => P384,
                65 | 66 => P521,
                _ => return Err(parse_err()),
            }),
        };
        if ![P256, P384, P521].contains(&curve.to_string().as_str()) {
            return Err(parse_err());
        }
        let inner = sec1::EcPrivateKey {
            private_key: ec.private_key,
            parameters: None,
            public_key: ec.public_key,
        };
        let inner = Zeroizing::new(inner.to_der().map_err(|_| parse_err())?);
        let info = pkcs8::PrivateKeyInfo::new(
            pkcs8::AlgorithmIdentifierRef {
                oid: ObjectIdentifier::new_unwrap(EC_PUBLIC_KEY),
                parameters: Some(AnyRef::from(&curve)),
            },
            &inner,
        );
        Self::from_pkcs8(info.to_der().map_err(|_| parse_err())?)
    }

    /// The key's algorithm and size.
    pub fn algo(&self) -> KeyAlgo {
        self.algo
    }

    /// The signature algorithm this key signs with.
    pub fn sig_alg(&self) -> SigAlg {
        self.algo.sig_alg()
    }

    /// SubjectPublicKeyInfo DER.
    pub fn spki_der(&self) -> Vec<u8> {
        self.pair.subject_public_key_info()
    }

    /// The subjectPublicKey BIT STRING contents (what key identifiers hash).
    pub fn public_key_bits(&self) -> &[u8] {
        self.pair.der_bytes()
    }

    /// Signs `msg` with the key's signature algorithm (ECDSA signatures DER-encoded).
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        self.pair
            .sign(msg)
            .map_err(|e| Error::PrivateKey(2000, format!("signing failed: {e}")))
    }

    /// The plaintext PKCS#8 DER.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// PEM as cfssl writes keys: "EC PRIVATE KEY" (SEC1 with the named curve), "RSA PRIVATE KEY"
    /// (PKCS#1), and "PRIVATE KEY" (PKCS#8) for Ed25519.
    pub fn to_cfssl_pem(&self) -> Result<String> {
        let info = pkcs8::PrivateKeyInfo::from_der(&self.pkcs8).map_err(|_| parse_err())?;
        let (tag, der): (&str, Zeroizing<Vec<u8>>) = match self.algo {
            KeyAlgo::Rsa(_) => ("RSA PRIVATE KEY", Zeroizing::new(info.private_key.to_vec())),
            KeyAlgo::Ed25519 => ("PRIVATE KEY", Zeroizing::new(self.pkcs8.to_vec())),
            _ => {
                let curve = info.algorithm.parameters_oid().map_err(|_| parse_err())?;
                let mut ec =
                    sec1::EcPrivateKey::from_der(info.private_key).map_err(|_| parse_err())?;
                ec.parameters = Some(sec1::EcParameters::NamedCurve(curve));
                let pk_owned;
                if ec.public_key.is_none() {
                    pk_owned = self.public_key_bits().to_vec();
                    ec.public_key = Some(&pk_owned);
                }
                (
                    "EC PRIVATE KEY",
                    Zeroizing::new(ec.to_der().map_err(|_| parse_err())?),
                )
            }
        };
        Ok(pem_encode(tag, &der))
    }

    /// PEM of the plaintext PKCS#8 form ("PRIVATE KEY").
    pub fn to_pkcs8_pem(&self) -> String {
        pem_encode("PRIVATE KEY", &self.pkcs8)
    }

    /// Encrypted PKCS#8 PEM: PBES2 with PBKDF2-SHA256 (600,000 rounds) and AES-256-CBC, which
    /// `openssl pkey` reads (pkcs8's default scrypt parameters are refused by OpenSSL 3).
    pub fn to_encrypted_pem(&self, passphrase: &[u8], rounds: u32) -> Result<String> {
        use aws_lc_rs::rand::{SecureRandom, SystemRandom};
        let rng = SystemRandom::new();
        let mut salt = [0u8; 16];
        let mut iv = [0u8; 16];
        rng.fill(&mut salt).map_err(gen_err)?;
        rng.fill(&mut iv).map_err(gen_err)?;
        let params = pkcs8::pkcs5::pbes2::Parameters::pbkdf2_sha256_aes256cbc(rounds, &salt, &iv)
            .map_err(gen_err)?;
        let info = pkcs8::PrivateKeyInfo::from_der(&self.pkcs8).map_err(|_| parse_err())?;
        let doc = info
            .encrypt_with_params(params, passphrase)
            .map_err(gen_err)?;
        Ok(pem_encode("ENCRYPTED PRIVATE KEY", doc.as_bytes()))
    }
}

fn rsa_reject(e: aws_lc_rs::error::KeyRejected) -> Error {
    let s = e.to_string();
    if s.contains("Small") || s.contains("small") {
        Error::PrivateKey(2400, "RSA key is too weak".into())
    } else if s.contains("Large") {
        // AWS-LC signs with RSA keys of up to 8192 bits (Go would take a larger one); the same
        // words as for a request of that size, not "Failed to parse".
        Error::PrivateKey(2400, "RSA key size too large".into())
    } else {
        parse_err()
    }
}

fn no_pem() -> Error {
    Error::PrivateKey(
        2002,
        "Failed to decode private key: no PEM block found".into(),
    )
}

/// PEM-encodes DER with 64-column lines and a trailing newline (as Go's pem.Encode).
pub fn pem_encode(tag: &str, der: &[u8]) -> String {
    let p = pem::Pem::new(tag, der.to_vec());
    pem::encode_config(
        &p,
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

/// SHA-1 of the subjectPublicKey bits: RFC 5280 §4.2.1.2 method (1), as cfssl/Go/openssl use.
pub fn key_id(public_key_bits: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        public_key_bits,
    )
    .as_ref()
    .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sizes_follow_cfssl() {
        assert_eq!(
            KeyAlgo::from_request("ecdsa", 0).unwrap(),
            KeyAlgo::EcdsaP256
        );
        assert_eq!(KeyAlgo::from_request("", 384).unwrap(), KeyAlgo::EcdsaP384);
        assert_eq!(
            KeyAlgo::from_request("RSA", 4096).unwrap(),
            KeyAlgo::Rsa(4096)
        );
        let weak = KeyAlgo::from_request("rsa", 1024).unwrap_err();
        assert_eq!(
            weak.to_json(),
            r#"{"code":2400,"message":"RSA key is too weak"}"#
        );
        assert_eq!(
            KeyAlgo::from_request("ecdsa", 224).unwrap_err().message(),
            "invalid curve"
        );
        assert_eq!(
            KeyAlgo::from_request("dsa", 0).unwrap_err().message(),
            "invalid algorithm"
        );
    }

    #[test]
    fn every_algorithm_round_trips_through_its_cfssl_pem() {
        for (algo, tag) in [
            (KeyAlgo::EcdsaP256, "EC PRIVATE KEY"),
            (KeyAlgo::EcdsaP384, "EC PRIVATE KEY"),
            (KeyAlgo::EcdsaP521, "EC PRIVATE KEY"),
            (KeyAlgo::Rsa(2048), "RSA PRIVATE KEY"),
            (KeyAlgo::Ed25519, "PRIVATE KEY"),
        ] {
            let k = PrivateKey::generate(algo).unwrap();
            let pem = k.to_cfssl_pem().unwrap();
            assert!(
                pem.starts_with(&format!("-----BEGIN {tag}-----\n")),
                "{pem}"
            );
            let back = PrivateKey::from_pem(pem.as_bytes(), None).unwrap();
            assert_eq!(back.algo(), algo);
            assert_eq!(back.spki_der(), k.spki_der());
            let info = pkcs8::PrivateKeyInfo::from_der(k.pkcs8_der()).unwrap();
            assert!(
                info.public_key.is_none(),
                "{algo:?}: PKCS#8 v1 expected (OpenSSL 3.0 reads only v1 Ed25519)"
            );
            let back8 = PrivateKey::from_pem(k.to_pkcs8_pem().as_bytes(), None).unwrap();
            assert_eq!(back8.spki_der(), k.spki_der());
        }
    }

    #[test]
    fn encrypted_pkcs8_needs_the_right_passphrase() {
        let k = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
        let enc = k.to_encrypted_pem(b"s3cret", 1000).unwrap();
        assert!(
            PrivateKey::from_pem(enc.as_bytes(), None)
                .unwrap_err()
                .code()
                == 2100
        );
        assert!(PrivateKey::from_pem(enc.as_bytes(), Some(b"nope")).is_err());
        let back = PrivateKey::from_pem(enc.as_bytes(), Some(b"s3cret")).unwrap();
        assert_eq!(back.spki_der(), k.spki_der());
    }

    /// A 1024-bit RSA key (PKCS#1), too weak for kpki as for cfssl.
    const RSA_1024_PEM: &str = "\
-----BEGIN RSA PRIVATE KEY-----\n\
MIICXQIBAAKBgQDGIqxTvEP2XJmUqFrGJXXp24vAopXAlQUfsOhGQL5j2J+eVmrn\n\
IDguT4OU0F7/Ifrg+UBnmane1VE7dwuDAOeZ8jc7KbnYJDn9lhNyerdKv+TGLqO9\n\
agBUL7fScFwa8jvbZ9RDKVJVbHeKaUq6qz30TkF/xJ7mUq9FraBEfrMTQwIDAQAB\n\
AoGBAJjrZ99UvYtmGq6uZSjq/p+Yb7skgLnbCdJUwmB+VbNQHJmjDu0FY/byLZbs\n\
X3VAL5X1Ka0L3xx5vTFNBth8GULO81L4dyOFuE0Dwkrt0B6PA6VyH1ykWK8GcV/+\n\
3N4G4ZhOprDlbUKVgCxWK1mvkya2zFFzg00nRLtPnRk20uxJAkEA55hEp/OcKbvw\n\
505+ZkuRzj2TjTYveB0kz7e3EQRqxtIhuKjWE6Nt69Ki0zofiwKeeFMy9wJITCOa\n\
SaoElB+4TQJBANsDxab/tENvZMhSXVjOrUrcUAg97gxXM2h7HzkI+2+QVhBJ7qPy\n\
iCfu0GJLqSAi7cSLpq+Ize6Q9eeUxFkHwc8CQDvWft66Nb4evia1hDkgC2MzS71v\n\
o6IwPYOh3x35ezE1t9rDXNSkJFGLEeDropzDJ3jFXmSt5Uou5L1lvVscOv0CQEK+\n\
T4mo+0JhvBDgKNpbgawCn9EjLlxMZro8azNybU1+avvjy/nie2PP/2k1LYFBo7v1\n\
4wIzaq59NrMwPvXyyzkCQQDR9GWbYM3IVVoR8LA5AIEoKFiCaZxC5Pfdn0CsCAmL\n\
M6kLPKDuhiWoFpipym3wdN6hyr+NUOXtouNSFJDmxCNI\n\
-----END RSA PRIVATE KEY-----\n";

    #[test]
    fn every_cfssl_request_size_and_its_error() {
        let ok = |algo: &str, size: u32| KeyAlgo::from_request(algo, size).unwrap();
        assert_eq!(ok("", 0), KeyAlgo::EcdsaP256);
        assert_eq!(ok("ECDSA", 256), KeyAlgo::EcdsaP256);
        assert_eq!(ok("ecdsa", 384), KeyAlgo::EcdsaP384);
        assert_eq!(ok("ecdsa", 521), KeyAlgo::EcdsaP521);
        assert_eq!(ok("rsa", 0), KeyAlgo::Rsa(2048));
        assert_eq!(ok("rsa", 2048), KeyAlgo::Rsa(2048));
        assert_eq!(ok("rsa", 3072), KeyAlgo::Rsa(3072));
        assert_eq!(ok("Ed25519", 0), KeyAlgo::Ed25519);
        assert_eq!(ok("ed25519", 256), KeyAlgo::Ed25519);
        let err = |algo: &str, size: u32| KeyAlgo::from_request(algo, size).unwrap_err().to_json();
        assert_eq!(
            err("rsa", 2047),
            r#"{"code":2400,"message":"RSA key is too weak"}"#
        );
        assert_eq!(
            err("rsa", 8192),
            r#"{"code":2400,"message":"RSA key size 8192 is not supported; use 2048, 3072 or 4096"}"#
        );
        assert_eq!(
            err("rsa", 2049),
            r#"{"code":2400,"message":"RSA key size 2049 is not supported; use 2048, 3072 or 4096"}"#
        );
        assert_eq!(
            err("rsa", 8193),
            r#"{"code":2400,"message":"RSA key size too large"}"#
        );
        assert_eq!(
            err("ecdsa", 512),
            r#"{"code":2400,"message":"invalid curve"}"#
        );
    }

    #[test]
    fn names_and_signature_algorithms_as_cfssl_and_go_print_them() {
        let cases: [(KeyAlgo, &str, &[u64], &str); 8] = [
            (
                KeyAlgo::EcdsaP256,
                "ecdsa-256",
                oid::ECDSA_SHA256,
                "ECDSAWithSHA256",
            ),
            (
                KeyAlgo::EcdsaP384,
                "ecdsa-384",
                oid::ECDSA_SHA384,
                "ECDSAWithSHA384",
            ),
            (
                KeyAlgo::EcdsaP521,
                "ecdsa-521",
                oid::ECDSA_SHA512,
                "ECDSAWithSHA512",
            ),
            (
                KeyAlgo::Rsa(2048),
                "rsa-2048",
                oid::RSA_SHA256,
                "SHA256WithRSA",
            ),
            (
                KeyAlgo::Rsa(3072),
                "rsa-3072",
                oid::RSA_SHA384,
                "SHA384WithRSA",
            ),
            (
                KeyAlgo::Rsa(4096),
                "rsa-4096",
                oid::RSA_SHA512,
                "SHA512WithRSA",
            ),
            (
                KeyAlgo::Rsa(8192),
                "rsa-8192",
                oid::RSA_SHA512,
                "SHA512WithRSA",
            ),
            (KeyAlgo::Ed25519, "ed25519", oid::ED25519, "Ed25519"),
        ];
        for (algo, name, sig_oid, sig_name) in cases {
            assert_eq!(algo.name(), name);
            assert_eq!(
                algo.sig_alg(),
                SigAlg {
                    oid: sig_oid,
                    name: sig_name
                },
                "{algo:?}"
            );
        }
        // AlgorithmIdentifier DER: RSA carries NULL parameters, ECDSA and Ed25519 none (RFC 5758, 8410).
        assert_eq!(
            hex::encode(KeyAlgo::EcdsaP256.sig_alg().identifier()),
            "300a06082a8648ce3d040302"
        );
        assert_eq!(
            hex::encode(KeyAlgo::Rsa(2048).sig_alg().identifier()),
            "300d06092a864886f70d01010b0500"
        );
        assert_eq!(
            hex::encode(KeyAlgo::Ed25519.sig_alg().identifier()),
            "300506032b6570"
        );
    }

    /// Every key signs with the algorithm its certificates announce: a verifier using that
    /// algorithm and the key's public bits accepts the signature.
    #[test]
    fn signatures_verify_under_the_announced_algorithm() {
        use aws_lc_rs::signature::{self as sig, UnparsedPublicKey, VerificationAlgorithm};
        let cases: [(KeyAlgo, &'static dyn VerificationAlgorithm); 7] = [
            (KeyAlgo::EcdsaP256, &sig::ECDSA_P256_SHA256_ASN1),
            (KeyAlgo::EcdsaP384, &sig::ECDSA_P384_SHA384_ASN1),
            (KeyAlgo::EcdsaP521, &sig::ECDSA_P521_SHA512_ASN1),
            (KeyAlgo::Rsa(2048), &sig::RSA_PKCS1_2048_8192_SHA256),
            (KeyAlgo::Rsa(3072), &sig::RSA_PKCS1_2048_8192_SHA384),
            (KeyAlgo::Rsa(4096), &sig::RSA_PKCS1_2048_8192_SHA512),
            (KeyAlgo::Ed25519, &sig::ED25519),
        ];
        for (algo, verifier) in cases {
            let k = PrivateKey::generate(algo).unwrap();
            assert_eq!(k.algo(), algo);
            assert_eq!(k.sig_alg(), algo.sig_alg());
            assert_eq!(format!("{k:?}"), format!("PrivateKey({})", algo.name()));
            let msg = b"tbsCertificate";
            let s = k.sign(msg).unwrap();
            let public = UnparsedPublicKey::new(verifier, k.public_key_bits());
            assert!(public.verify(msg, &s).is_ok(), "{algo:?}");
            assert!(public.verify(b"tampered", &s).is_err(), "{algo:?}");
            // The loaded form signs the same way.
            let back = PrivateKey::from_pem(k.to_cfssl_pem().unwrap().as_bytes(), None).unwrap();
            assert_eq!(back.algo(), algo);
            assert_eq!(back.spki_der(), k.spki_der(), "{algo:?}");
            assert_eq!(back.pkcs8_der(), k.pkcs8_der(), "{algo:?}");
            let s = back.sign(msg).unwrap();
            assert!(public.verify(msg, &s).is_ok(), "{algo:?} reloaded");
        }
        assert_eq!(
            PrivateKey::generate(KeyAlgo::Rsa(1024))
                .unwrap_err()
                .to_json(),
            r#"{"code":2400,"message":"unsupported RSA key size"}"#
        );
    }

    #[test]
    fn spki_and_public_key_bits_are_rfc5280_encodings() {
        let k = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
        let bits = k.public_key_bits();
        assert_eq!(
            (bits.len(), bits[0]),
            (65, 0x04),
            "uncompressed P-256 point"
        );
        // SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (0 unused bits) }
        let prefix = hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").unwrap();
        assert_eq!(k.spki_der(), [prefix.as_slice(), bits].concat());
        let ed = PrivateKey::generate(KeyAlgo::Ed25519).unwrap();
        let prefix = hex::decode("302a300506032b6570032100").unwrap();
        assert_eq!(ed.public_key_bits().len(), 32);
        assert_eq!(
            ed.spki_der(),
            [prefix.as_slice(), ed.public_key_bits()].concat()
        );
        // RFC 5280 §4.2.1.2 method (1): SHA-1 of the key bits (FIPS 180 "abc" vector).
        assert_eq!(
            hex::encode(key_id(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
    }

    #[test]
    fn weak_rsa_keys_are_refused_in_every_container() {
        let weak = r#"{"code":2400,"message":"RSA key is too weak"}"#;
        let err = |pem: &[u8]| PrivateKey::from_pem(pem, None).unwrap_err().to_json();
        assert_eq!(err(RSA_1024_PEM.as_bytes()), weak);
        let pkcs1 = pem::parse(RSA_1024_PEM).unwrap().into_contents();
        let rsa_alg = pkcs8::AlgorithmIdentifierRef {
            oid: pkcs8::ObjectIdentifier::new_unwrap(RSA_ENCRYPTION),
            parameters: Some(pkcs8::der::asn1::AnyRef::NULL),
        };
        let p8 = pkcs8::PrivateKeyInfo::new(rsa_alg, &pkcs1)
            .to_der()
            .unwrap();
        assert_eq!(err(pem_encode("PRIVATE KEY", &p8).as_bytes()), weak);
        assert_eq!(PrivateKey::from_pkcs8(p8).unwrap_err().to_json(), weak);
        assert_eq!(
            PrivateKey::from_der_any(&pkcs1).unwrap_err().to_json(),
            weak
        );
        // Unlabelled DER is tried as PKCS#8, PKCS#1 then SEC1.
        let k = PrivateKey::generate(KeyAlgo::EcdsaP384).unwrap();
        let sec1 = pem::parse(k.to_cfssl_pem().unwrap())
            .unwrap()
            .into_contents();
        assert_eq!(
            PrivateKey::from_der_any(&sec1).unwrap().spki_der(),
            k.spki_der()
        );
        assert_eq!(
            PrivateKey::from_der_any(b"\x30\x00").unwrap_err().to_json(),
            r#"{"code":2003,"message":"Failed to parse private key"}"#
        );
    }

    #[test]
    fn rsa_keys_over_8192_bits_are_refused_as_too_large_in_every_container() {
        // An 8256-bit key (openssl genrsa 8256): AWS-LC refuses RSA keys over 8192 bits.
        let p8_pem = include_str!("../tests/fixtures/rsa-8256-key.pem");
        let large = r#"{"code":2400,"message":"RSA key size too large"}"#;
        let err = |pem: &[u8]| PrivateKey::from_pem(pem, None).unwrap_err().to_json();
        assert_eq!(err(p8_pem.as_bytes()), large);
        let p8 = pem::parse(p8_pem).unwrap().into_contents();
        let pkcs1 = pkcs8::PrivateKeyInfo::from_der(&p8)
            .unwrap()
            .private_key
            .to_vec();
        assert_eq!(err(pem_encode("RSA PRIVATE KEY", &pkcs1).as_bytes()), large);
        assert_eq!(
            PrivateKey::from_der_any(&pkcs1).unwrap_err().to_json(),
            large
        );
    }

    #[test]
    fn mislabelled_pem_keys_load_as_in_cfssl() {
        // cfssl ignores a key block's label; an RSA key under "EC PRIVATE KEY" (or the other way
        // round) must load, as the same key.
        let rsa = PrivateKey::generate(KeyAlgo::Rsa(2048)).unwrap();
        let ec = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
        for (key, from, to) in [
            (&rsa, "RSA PRIVATE KEY", "EC PRIVATE KEY"),
            (&ec, "EC PRIVATE KEY", "RSA PRIVATE KEY"),
        ] {
            let pem = key.to_cfssl_pem().unwrap();
            assert!(pem.contains(from), "{pem}");
            let relabelled = pem.replace(from, to);
            let loaded = PrivateKey::from_pem(relabelled.as_bytes(), None).unwrap();
            assert_eq!(loaded.spki_der(), key.spki_der(), "{from} under {to}");
            assert_eq!(loaded.algo(), key.algo());
        }
        // The labelled format's own error stays when nothing else fits either.
        let weak = RSA_1024_PEM.replace("RSA PRIVATE KEY", "EC PRIVATE KEY");
        assert_eq!(
            PrivateKey::from_pem(weak.as_bytes(), None)
                .unwrap_err()
                .to_json(),
            r#"{"code":2003,"message":"Failed to parse private key"}"#
        );
        assert_eq!(
            PrivateKey::from_pem(RSA_1024_PEM.as_bytes(), None)
                .unwrap_err()
                .to_json(),
            r#"{"code":2400,"message":"RSA key is too weak"}"#
        );
        let junk = pem_encode("EC PRIVATE KEY", b"\x30\x03\x02\x01\x01");
        assert_eq!(
            PrivateKey::from_pem(junk.as_bytes(), None)
                .unwrap_err()
                .to_json(),
            r#"{"code":2003,"message":"Failed to parse private key"}"#
        );
    }

    #[test]
    fn pem_oddities_cfssl_handles() {
        // `openssl ecparam -genkey` writes an EC PARAMETERS block first: it is skipped.
        let k = PrivateKey::generate(KeyAlgo::EcdsaP256).unwrap();
        let params = pem_encode(
            "EC PARAMETERS",
            &hex::decode("06082a8648ce3d030107").unwrap(),
        );
        let text = params + &k.to_cfssl_pem().unwrap();
        let back = PrivateKey::from_pem(text.as_bytes(), None).unwrap();
        assert_eq!(back.spki_der(), k.spki_der());
        // Legacy OpenSSL encryption (Proc-Type header) is cfssl's 2100, not a parse error.
        let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\
                      DEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nMAA=\n\
                      -----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            PrivateKey::from_pem(legacy.as_bytes(), None)
                .unwrap_err()
                .to_json(),
            r#"{"code":2100,"message":"Private key is encrypted."}"#
        );
        let wrong = k.to_encrypted_pem(b"right", 1000).unwrap();
        assert_eq!(
            PrivateKey::from_pem(wrong.as_bytes(), Some(b"wrong"))
                .unwrap_err()
                .to_json(),
            r#"{"code":2003,"message":"Failed to decrypt private key: wrong passphrase?"}"#
        );
        assert!(wrong.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"));
        // Go's pem.Encode: 64-column base64 lines, LF, trailing newline.
        assert_eq!(
            pem_encode("X", &[0u8; 48]),
            format!("-----BEGIN X-----\n{}\n-----END X-----\n", "A".repeat(64))
        );
    }

    #[test]
    fn garbage_is_a_clean_error() {
        assert_eq!(
            PrivateKey::from_pem(b"hello", None).unwrap_err().code(),
            2002
        );
        let bogus = pem_encode("PRIVATE KEY", b"\x30\x03\x02\x01\x00");
        assert_eq!(
            PrivateKey::from_pem(bogus.as_bytes(), None)
                .unwrap_err()
                .code(),
            2003
        );
    }

    #[test]
    fn sec1_keys_load_with_or_without_parameters_and_public_key() {
        use pkcs8::der::asn1::ObjectIdentifier;
        let sec1_pem =
            |ec: &sec1::EcPrivateKey<'_>| pem_encode("EC PRIVATE KEY", &ec.to_der().unwrap());
        for algo in [KeyAlgo::EcdsaP256, KeyAlgo::EcdsaP384, KeyAlgo::EcdsaP521] {
            let k = PrivateKey::generate(algo).unwrap();
            let other = PrivateKey::generate(algo).unwrap();
            let pem = k.to_cfssl_pem().unwrap();
            let block = pem::parse(&pem).unwrap();
            let full = sec1::EcPrivateKey::from_der(block.contents()).unwrap();
            assert!(full.parameters.is_some() && full.public_key.is_some());
            let loads_as_k = |ec: &sec1::EcPrivateKey<'_>| {
                let back = PrivateKey::from_pem(sec1_pem(ec).as_bytes(), None).unwrap();
                assert_eq!(back.algo(), algo);
                assert_eq!(back.spki_der(), k.spki_der(), "{algo:?}");
                // What it keeps is a PKCS#8 v1 that loads again to the same key and signs.
                let again = PrivateKey::from_pkcs8(back.pkcs8_der().to_vec()).unwrap();
                assert_eq!(again.spki_der(), k.spki_der());
                assert!(
                    pkcs8::PrivateKeyInfo::from_der(back.pkcs8_der())
                        .unwrap()
                        .public_key
                        .is_none()
                );
                let msg = b"sec1";
                let sig = back.sign(msg).unwrap();
                let alg: &dyn aws_lc_rs::signature::VerificationAlgorithm = match algo {
                    KeyAlgo::EcdsaP256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
                    KeyAlgo::EcdsaP384 => &aws_lc_rs::signature::ECDSA_P384_SHA384_ASN1,
                    _ => &aws_lc_rs::signature::ECDSA_P521_SHA512_ASN1,
                };
                aws_lc_rs::signature::UnparsedPublicKey::new(alg, k.public_key_bits())
                    .verify(msg, &sig)
                    .unwrap();
            };
            loads_as_k(&full);
            // Without the curve parameters (the scalar's length names the curve) ...
            loads_as_k(&sec1::EcPrivateKey {
                parameters: None,
                ..full.clone()
            });
            // ... and without the public key (computed from the scalar).
            loads_as_k(&sec1::EcPrivateKey {
                public_key: None,
                ..full.clone()
            });
            loads_as_k(&sec1::EcPrivateKey {
                parameters: None,
                public_key: None,
                ..full.clone()
            });
            // A public key that is not the scalar's is refused, not silently replaced.
            let wrong = other.public_key_bits().to_vec();
            let mismatched = sec1::EcPrivateKey {
                public_key: Some(&wrong),
                ..full.clone()
            };
            let e = PrivateKey::from_pem(sec1_pem(&mismatched).as_bytes(), None).unwrap_err();
            assert_eq!(e.code(), 2003, "{algo:?}: {e}");
            // A curve kpki does not sign with (secp256k1) is refused.
            let k1 = sec1::EcPrivateKey {
                parameters: Some(sec1::EcParameters::NamedCurve(
                    ObjectIdentifier::new_unwrap("1.3.132.0.10"),
                )),
                ..full.clone()
            };
            let e = PrivateKey::from_pem(sec1_pem(&k1).as_bytes(), None).unwrap_err();
            assert_eq!(e.code(), 2003, "{algo:?}: {e}");
        }
        // A scalar of no supported length without parameters names no curve.
        let odd = sec1::EcPrivateKey {
            private_key: &[7u8; 40],
            parameters: None,
            public_key: None,
        };
        let e = PrivateKey::from_pem(sec1_pem(&odd).as_bytes(), None).unwrap_err();
        assert_eq!(e.code(), 2003, "{e}");
    }
}

// The one certificate writer of the ring authority, for its own self-signed certificate and for
// every peer's. The ASN.1 structures and their DER come from @peculiar/asn1-x509 and
// @peculiar/asn1-schema; node:crypto makes the keys and the signature. Not @peculiar/x509: the
// layer above these two loads ~130 more modules (dependency injection, CMS, PKCS#12, CSRs...)
// that issuing never uses, most of `cdht ca issue`'s time.
import { createRequire } from 'node:module';
import { createHash, sign, type KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from './checks.js';

// Through require, not import: both packages are CommonJS, and importing them from an ES module
// has node scan all of their ~90 files for export names first, which costs as much again as
// loading them (node 20).
const require = createRequire(import.meta.url);
const { AsnConvert, OctetString } = require('@peculiar/asn1-schema') as typeof import('@peculiar/asn1-schema');
const {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  id_kp_serverAuth,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} = require('@peculiar/asn1-x509') as typeof import('@peculiar/asn1-x509');
type Name = import('@peculiar/asn1-x509').Name;
type SubjectPublicKeyInfo = import('@peculiar/asn1-x509').SubjectPublicKeyInfo;
type Extension = import('@peculiar/asn1-x509').Extension;

/** id-at-commonName (RFC 5280 appendix A). */
const OID_COMMON_NAME = '2.5.4.3';
/** The signature algorithm of each key algorithm: Ed25519 (RFC 8410), ecdsa-with-SHA256 (RFC 5758); no parameters either way. */
const SIGNATURE_OIDS: Record<KeyAlgorithm, string> = { Ed25519: '1.3.101.112', 'P-256': '1.2.840.10045.4.3.2' };
/** node:crypto's digest for each (Ed25519 hashes inside); ECDSA signatures come out DER-encoded, as X.509 has them. */
const SIGNATURE_DIGESTS: Record<KeyAlgorithm, string | null> = { Ed25519: null, 'P-256': 'sha256' };

/** What the certificate is for: the ring's authority, or one of its peers (TLS server and client both). */
export type CertificateRole = { kind: 'authority' } | { kind: 'peer'; authorityKeyId: Uint8Array };

export interface CertificateParams {
  role: CertificateRole;
  /** The subject's common name (a UTF8String: commas and quotes in it stay literal). */
  subject: string;
  /** The issuer's name as it appears in its own certificate; the subject's name when absent (self-signed). */
  issuer?: Name;
  publicKey: KeyObject;
  signingKey: KeyObject;
  algorithm: KeyAlgorithm;
  /** A positive INTEGER's minimal big-endian octets (see positiveSerial). */
  serial: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

/** A DN holding one RDN with one UTF8String CN. */
export function commonNameDn(cn: string): Name {
  return new Name([new RelativeDistinguishedName([new AttributeTypeAndValue({ type: OID_COMMON_NAME, value: new AttributeValue({ utf8String: cn }) })])]);
}

/**
 * `random` as the octets of a positive DER INTEGER: leading zero octets dropped, one 0x00 put in
 * front when the first bit is set (RFC 5280 serial numbers are positive, at most 20 octets).
 */
export function positiveSerial(random: Uint8Array): Uint8Array {
  let first = 0;
  while (first < random.length - 1 && random[first] === 0) first++;
  const bytes = random.subarray(first);
  if (bytes.length === 0) return Uint8Array.of(0);
  if (bytes[0]! > 0x7f) {
    const padded = new Uint8Array(bytes.length + 1);
    padded.set(bytes, 1);
    return padded;
  }
  return Uint8Array.from(bytes);
}

/** The bytes in an ArrayBuffer of their own, the type asn1-schema's INTEGER and BIT STRING fields hold. */
function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return Uint8Array.from(bytes).buffer;
}

function spkiOf(key: KeyObject): SubjectPublicKeyInfo {
  return AsnConvert.parse(key.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo);
}

/** RFC 5280 4.2.1.2 method (1): the SHA-1 of the subjectPublicKey BIT STRING's bits. */
export function keyIdentifierOf(spki: SubjectPublicKeyInfo): Uint8Array {
  return new Uint8Array(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest());
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) });
}

/**
 * The extensions, in this order. Authority: basicConstraints CA (critical), keyUsage keyCertSign
 * and cRLSign (critical), subjectKeyIdentifier. Peer: basicConstraints not a CA (critical),
 * keyUsage digitalSignature (critical), extendedKeyUsage serverAuth and clientAuth (every peer
 * accepts connections and makes them), subjectKeyIdentifier, authorityKeyIdentifier.
 */
function extensionsFor(role: CertificateRole, spki: SubjectPublicKeyInfo): Extension[] {
  const ski = extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(keyIdentifierOf(spki)));
  if (role.kind === 'authority') {
    return [
      extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: true })),
      extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign)),
      ski,
    ];
  }
  return [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, new KeyUsage(KeyUsageFlags.digitalSignature)),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_serverAuth, id_kp_clientAuth])),
    ski,
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(role.authorityKeyId) })),
  ];
}

/** A v3 certificate, DER-encoded, signed with `signingKey`. */
export function certificateDer(p: CertificateParams): Uint8Array<ArrayBuffer> {
  const spki = spkiOf(p.publicKey);
  const subject = commonNameDn(p.subject);
  const signatureAlgorithm = new AlgorithmIdentifier({ algorithm: SIGNATURE_OIDS[p.algorithm] });
  const tbsCertificate = new TBSCertificate({
    version: Version.v3,
    serialNumber: arrayBuffer(p.serial),
    signature: signatureAlgorithm,
    issuer: p.issuer ?? subject,
    validity: new Validity({ notBefore: p.notBefore, notAfter: p.notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensionsFor(p.role, spki)),
  });
  const tbs = new Uint8Array(AsnConvert.serialize(tbsCertificate));
  const signatureValue = sign(SIGNATURE_DIGESTS[p.algorithm], tbs, p.signingKey);
  return new Uint8Array(AsnConvert.serialize(new Certificate({ tbsCertificate, signatureAlgorithm, signatureValue: arrayBuffer(signatureValue) })));
}

/** What issuing needs of the authority's certificate, read from its DER. */
export interface IssuerFacts {
  name: Name;
  /** Its subjectKeyIdentifier, or one computed from its key when it has none. */
  keyId: Uint8Array;
  notBefore: Date;
  notAfter: Date;
}

export function issuerFacts(der: Uint8Array): IssuerFacts {
  const { tbsCertificate: tbs } = AsnConvert.parse(der, Certificate);
  const skiExt = tbs.extensions?.find((e) => e.extnID === id_ce_subjectKeyIdentifier);
  const ski = skiExt ? new Uint8Array(AsnConvert.parse(skiExt.extnValue, SubjectKeyIdentifier).buffer) : undefined;
  return {
    name: tbs.subject,
    keyId: ski && ski.length > 0 ? ski : keyIdentifierOf(tbs.subjectPublicKeyInfo),
    notBefore: tbs.validity.notBefore.getTime(),
    notAfter: tbs.validity.notAfter.getTime(),
  };
}

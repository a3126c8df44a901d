/**
 * --auto-tls: a self-signed certificate made with node:crypto alone, as etcd's
 * transport.SelfCert makes it: ECDSA P-521, signed with SHA-512, Organization "etcd", valid for
 * a year from now, key usage digitalSignature + keyEncipherment, extended key usage serverAuth,
 * and the listen hosts as subjectAltName (IP entries for addresses, DNS entries for names).
 * Written to <dir>/cert.pem and <dir>/key.pem ("EC PRIVATE KEY", mode 0600), and reused when
 * both files are already there, as etcd does. Clients cannot verify such a certificate: they
 * connect with --insecure-skip-tls-verify (etcdctl's and etsdctl's), exactly as with etcd.
 *
 * Node can sign but has no X.509 writer, so the certificate is DER-encoded here (RFC 5280).
 * The DER used, a tag byte then a length then the contents:
 *
 * | tag  | meaning                         | length form                                      |
 * | ---- | ------------------------------- | ------------------------------------------------ |
 * | 0x01 | BOOLEAN (0xff = true)           | contents < 128 bytes: one byte, the length       |
 * | 0x02 | INTEGER (two's complement, BE)  | otherwise 0x80 + n, then n bytes big-endian      |
 * | 0x03 | BIT STRING (first byte: unused bits) |                                             |
 * | 0x04 | OCTET STRING                    |                                                  |
 * | 0x06 | OBJECT IDENTIFIER               |                                                  |
 * | 0x13 | PrintableString                 |                                                  |
 * | 0x17 | UTCTime YYMMDDHHMMSSZ (years 1950-2049) |                                          |
 * | 0x18 | GeneralizedTime YYYYMMDDHHMMSSZ (other years) |                                    |
 * | 0x30 | SEQUENCE                        |                                                  |
 * | 0x31 | SET                             |                                                  |
 * | 0xa0 | [0] EXPLICIT (certificate version) |                                               |
 * | 0xa3 | [3] EXPLICIT (extensions)       |                                                  |
 * | 0x82 | [2] IMPLICIT IA5String: SAN dNSName |                                              |
 * | 0x87 | [7] IMPLICIT OCTET STRING: SAN iPAddress (4 or 16 bytes) |                         |
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { assert } from '../util/assert.js';
import { selfCertValidityMs } from '../limits.js';

const TAG_BOOLEAN = 0x01;
const TAG_INTEGER = 0x02;
const TAG_BIT_STRING = 0x03;
const TAG_OCTET_STRING = 0x04;
const TAG_OID = 0x06;
const TAG_PRINTABLE_STRING = 0x13;
const TAG_UTC_TIME = 0x17;
const TAG_GENERALIZED_TIME = 0x18;
const TAG_SEQUENCE = 0x30;
const TAG_SET = 0x31;
const TAG_EXPLICIT_0 = 0xa0;
const TAG_EXPLICIT_3 = 0xa3;
const TAG_SAN_DNS = 0x82;
const TAG_SAN_IP = 0x87;

const OID_ECDSA_SHA512 = '1.2.840.10045.4.3.4';
const OID_ORGANIZATION = '2.5.4.10';
const OID_KEY_USAGE = '2.5.29.15';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
/** X.509 v3 is written as version 2. */
const X509_V3 = 2;
/** KeyUsage bits digitalSignature (bit 0) and keyEncipherment (bit 2), first byte MSB-first. */
const KEY_USAGE_BITS = 0b1010_0000;
/** Bits 3..7 of that byte are unused. */
const KEY_USAGE_UNUSED_BITS = 5;
/** etcd draws the serial below 2^128. */
const SERIAL_BYTES = 16;

/** One DER element: tag, length, contents. */
export function der(tag: number, ...contents: Uint8Array[]): Buffer {
  const body = Buffer.concat(contents);
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) {
    len = Buffer.from([n]);
  } else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}

/** A non-negative INTEGER from big-endian magnitude bytes (a 0x00 is prepended when the top bit is set). */
function derUnsigned(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return der(TAG_INTEGER, (m[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), m]) : m);
}

/** An OBJECT IDENTIFIER from dotted text: 40*a+b, then base-128 with continuation bits. */
export function derOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  assert(arcs.length >= 2 && arcs.every((a) => Number.isSafeInteger(a) && a >= 0), `bad OID ${dotted}`);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const groups: number[] = [];
    for (let v = arc; ; v = Math.floor(v / 128)) {
      groups.unshift(v % 128);
      if (v < 128) break;
    }
    groups.forEach((g, k) => out.push(k < groups.length - 1 ? 0x80 | g : g));
  }
  return der(TAG_OID, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 4.1.2.5), to the second, in UTC. */
function derTime(d: Date): Buffer {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  const rest = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  const y = d.getUTCFullYear();
  if (y >= 1950 && y < 2050) return der(TAG_UTC_TIME, Buffer.from(`${p(y % 100)}${rest}`, 'latin1'));
  return der(TAG_GENERALIZED_TIME, Buffer.from(`${p(y, 4)}${rest}`, 'latin1'));
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  return der(TAG_SEQUENCE, derOid(oid), ...(critical ? [der(TAG_BOOLEAN, Buffer.from([0xff]))] : []), der(TAG_OCTET_STRING, value));
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // IPv6: expand "::" and any embedded IPv4 tail into 8 groups of 16 bits.
  let text = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, v4.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  assert(groups.length === 8, `bad IPv6 address ${ip}`);
  const out = Buffer.alloc(16);
  groups.forEach((g, k) => out.writeUInt16BE(parseInt(g, 16), 2 * k));
  return out;
}

/** subjectAltName entries for the hosts: IP addresses as iPAddress, anything else as dNSName. */
function subjectAltName(hosts: readonly string[]): Buffer {
  const names = [...new Set(hosts)].map((h) => (net.isIP(h) !== 0 ? der(TAG_SAN_IP, ipBytes(h)) : der(TAG_SAN_DNS, Buffer.from(h, 'latin1'))));
  return der(TAG_SEQUENCE, ...names);
}

export interface SelfSignedCert {
  /** PEM "CERTIFICATE". */
  certPem: string;
  /** PEM "EC PRIVATE KEY" (SEC 1), as Go's x509.MarshalECPrivateKey writes it. */
  keyPem: string;
}

/** Makes a self-signed certificate for the hosts (IPs or DNS names), valid from `now` for a year. */
export function makeSelfSignedCert(hosts: readonly string[], now = new Date()): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-521' });
  const sigAlg = der(TAG_SEQUENCE, derOid(OID_ECDSA_SHA512));
  const name = der(TAG_SEQUENCE, der(TAG_SET, der(TAG_SEQUENCE, derOid(OID_ORGANIZATION), der(TAG_PRINTABLE_STRING, Buffer.from('etcd', 'latin1')))));
  const extensions = [
    extension(OID_KEY_USAGE, true, der(TAG_BIT_STRING, Buffer.from([KEY_USAGE_UNUSED_BITS, KEY_USAGE_BITS]))),
    extension(OID_EXT_KEY_USAGE, false, der(TAG_SEQUENCE, derOid(OID_SERVER_AUTH))),
    // BasicConstraints present with cA absent (false): an end-entity certificate.
    extension(OID_BASIC_CONSTRAINTS, true, der(TAG_SEQUENCE)),
    ...(hosts.length > 0 ? [extension(OID_SUBJECT_ALT_NAME, false, subjectAltName(hosts))] : []),
  ];
  const tbs = der(
    TAG_SEQUENCE,
    der(TAG_EXPLICIT_0, derUnsigned(Buffer.from([X509_V3]))),
    derUnsigned(randomBytes(SERIAL_BYTES)),
    sigAlg,
    name,
    der(TAG_SEQUENCE, derTime(now), derTime(new Date(now.getTime() + selfCertValidityMs))),
    name,
    publicKey.export({ type: 'spki', format: 'der' }),
    der(TAG_EXPLICIT_3, der(TAG_SEQUENCE, ...extensions)),
  );
  const signature = sign('sha512', tbs, privateKey as KeyObject);
  const cert = der(TAG_SEQUENCE, tbs, sigAlg, der(TAG_BIT_STRING, Buffer.from([0]), signature));
  const b64 = cert.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'sec1', format: 'pem' }) as string,
  };
}

/**
 * etcd's transport.SelfCert: reuse <dir>/cert.pem and <dir>/key.pem when both exist, else make
 * and write them. Returns the paths.
 */
export async function selfCert(dir: string, hosts: readonly string[]): Promise<{ certFile: string; keyFile: string }> {
  const certFile = path.join(dir, 'cert.pem');
  const keyFile = path.join(dir, 'key.pem');
  await fs.promises.mkdir(dir, { recursive: true, mode: 0o700 });
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return { certFile, keyFile };
  const made = makeSelfSignedCert(hosts);
  await fs.promises.writeFile(keyFile, made.keyPem, { mode: 0o600 });
  await fs.promises.writeFile(certFile, made.certPem, { mode: 0o644 });
  return { certFile, keyFile };
}

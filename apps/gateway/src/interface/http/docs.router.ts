import { ProblemError } from '@msr/service-defaults';
import { Router } from 'express';
import type { ApiDocsService, OperationAccess, ServiceDocs } from '../../application/api-docs.service.js';
import { noteForAccessLog } from './access-log.js';

const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => htmlEscapes[char] ?? char);
}

function accessLabel(access: OperationAccess): string {
  switch (access.kind) {
    case 'public':
      return '<span class="public">public</span>';
    case 'token':
      return access.scope === undefined ? '<span class="token">bearer token</span>' : `<span class="token">token with <code>${escapeHtml(access.scope)}</code></span>`;
    case 'not_routed':
      return '<span class="internal">not routed (internal)</span>';
    default: {
      const unhandled: never = access;
      return String(unhandled);
    }
  }
}

function serviceSection(docs: ServiceDocs): string {
  const link = `/docs/${encodeURIComponent(docs.service)}/openapi.json`;
  if (!docs.ok) {
    return `<section id="${escapeHtml(docs.service)}"><h2>${escapeHtml(docs.service)}</h2>
<p class="unavailable">Documentation unavailable right now: ${escapeHtml(docs.reason)}</p></section>`;
  }
  const rows = docs.operations
    .map(
      (operation) => `<tr><td class="method ${operation.method.toLowerCase()}">${operation.method}</td>` +
        `<td><code>${escapeHtml(operation.publicPath ?? operation.servicePath)}</code></td>` +
        `<td>${escapeHtml(operation.summary ?? '')}</td><td>${accessLabel(operation.access)}</td></tr>`,
    )
    .join('\n');
  return `<section id="${escapeHtml(docs.service)}"><h2>${escapeHtml(docs.title)} <small>${escapeHtml(docs.version)} · ${escapeHtml(docs.service)}</small></h2>
${docs.description === undefined ? '' : `<p>${escapeHtml(docs.description)}</p>`}
<p>OpenAPI 3 document: <a href="${link}">${link}</a></p>
<table><thead><tr><th>Method</th><th>Path</th><th>Summary</th><th>Access</th></tr></thead>
<tbody>
${rows}
</tbody></table></section>`;
}

/** The self-contained documentation page: no scripts, no external assets (nothing to fetch from a CDN). */
export function renderDocsPage(catalog: readonly ServiceDocs[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>API documentation</title>
<style>
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1d2330}
h1{margin-bottom:.2rem}h2 small{font-weight:normal;color:#667}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6ec}
.method{font-weight:bold;font-family:monospace}.get{color:#17803d}.post{color:#1d5fbf}.put,.patch{color:#a15c00}.delete{color:#b42318}
.public{color:#17803d}.token{color:#1d5fbf}.internal{color:#888}.unavailable{color:#b42318}
nav a{margin-right:1rem}
</style></head>
<body><h1>API documentation</h1>
<p>Every service's OpenAPI 3 document, as the API gateway exposes it. Paths below are public paths through the gateway;
operations that need a token take <code>Authorization: Bearer &lt;JWT&gt;</code> (for development: <code>npm run token</code>).</p>
<nav>${catalog.map((docs) => `<a href="#${escapeHtml(docs.service)}">${escapeHtml(docs.service)}</a>`).join('')}</nav>
${catalog.map(serviceSection).join('\n')}
</body></html>
`;
}

/**
 * `GET /docs`: one page listing every routed service's operations, with links to
 * `GET /docs/{service}/openapi.json`, each service's own document restated for the public
 * (gateway paths, bearer-token security). Services that are down are listed as unavailable.
 */
export function docsRouter(docs: ApiDocsService): Router {
  const router = Router();
  router.get('/docs', async (req, res) => {
    noteForAccessLog(res, { route: '/docs' });
    const catalog = await docs.catalog(req.get('x-request-id'));
    res.type('html').send(renderDocsPage(catalog));
  });
  router.get('/docs/:service/openapi.json', async (req, res) => {
    noteForAccessLog(res, { route: '/docs/:service/openapi.json' });
    const service = String(req.params['service']);
    if (!docs.services().includes(service)) throw new ProblemError(404, 'DOCS.UNKNOWN_SERVICE', `No routed service is called ${service}`);
    noteForAccessLog(res, { service });
    res.json(await docs.publicDocument(service, req.get('x-request-id')));
  });
  return router;
}

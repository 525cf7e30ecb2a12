/** A real local HTTP server that answers scripted responses and records what it received. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { configureApi } from '../../src/api';

export interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Reply {
  status: number;
  json?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
}

export type Handler = (request: Recorded, calls: number) => Reply;

export interface TestServer {
  origin: string;
  requests: Recorded[];
  /** Answer `METHOD /path` (path without query) with `handler`; `calls` counts earlier hits. */
  on: (method: string, path: string, handler: Handler) => void;
  reset: () => void;
  close: () => Promise<void>;
}

export async function startServer(): Promise<TestServer> {
  const requests: Recorded[] = [];
  const handlers = new Map<string, Handler>();
  const counts = new Map<string, number>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const recorded: Recorded = {
        method: req.method ?? 'GET',
        path: url.pathname + url.search,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      const key = `${recorded.method} ${url.pathname}`;
      const calls = counts.get(key) ?? 0;
      counts.set(key, calls + 1);
      const handler = handlers.get(key);
      const reply: Reply = handler
        ? handler(recorded, calls)
        : { status: 404, json: { status: 404, code: 'not_found', detail: `No handler for ${key}` }, contentType: 'application/problem+json' };
      const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.text ?? '');
      const contentType = reply.contentType ?? (reply.json !== undefined ? 'application/json' : 'text/plain');
      res.writeHead(reply.status, { ...(body ? { 'Content-Type': contentType } : {}), ...reply.headers });
      res.end(body);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    on: (method, path, handler) => handlers.set(`${method} ${path}`, handler),
    reset: () => {
      requests.length = 0;
      handlers.clear();
      counts.clear();
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

export interface ApiServerOptions {
  /**
   * For jsdom tests: testing-library's `cleanup`, run after each test, and the CSRF cookie is set
   * on the real `document`. Without it (node tests) `document` is stubbed, then unstubbed after
   * each test. Passed in so that this file never imports testing-library itself.
   */
  cleanup?: () => void;
  /**
   * Whether each test starts with the CSRF cookie set to `tok`; true unless false. It is `__Host-mcc_csrf`,
   * except on jsdom's plain-HTTP page, which (like browsers) refuses `__Host-` cookies: there the plain
   * `mcc_csrf` of MCC_COOKIE_SECURE=false stands in.
   */
  csrf?: boolean;
}

/**
 * Registers the hooks of a test file that talks to a real test server: starts it once (handing it
 * to `onStart`) and closes it after; before each test resets it, points the API at it and sets
 * the CSRF cookie; after each test undoes the cookie stub or runs `cleanup`.
 */
export function useApiServer(onStart: (server: TestServer) => void, options: ApiServerOptions = {}): void {
  const { cleanup, csrf = true } = options;
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer();
    onStart(server);
  });

  afterAll(async () => {
    await server.close();
  });

  beforeEach(() => {
    server.reset();
    configureApi({ origin: server.origin });
    if (!csrf) return;
    if (cleanup) document.cookie = 'mcc_csrf=tok';
    else vi.stubGlobal('document', { cookie: '__Host-mcc_csrf=tok' });
  });

  afterEach(() => {
    if (cleanup) cleanup();
    else vi.unstubAllGlobals();
  });
}

export function problem(status: number, code: string, detail: string, extra: Record<string, unknown> = {}): Reply {
  return {
    status,
    contentType: 'application/problem+json',
    json: { type: `https://medcloudcare.dev/problems/${code}`, title: 'Problem', status, code, detail, ...extra },
  };
}

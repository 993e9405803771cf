/**
 * The admin console's static files at /admin/ on the service port, so the
 * browser calls the API from the same origin (no CORS) with the user's own
 * token. The files are what `npm run build` puts in dist/console; the server
 * only reads them, and only below that directory.
 */
import fs from 'node:fs';
import type http from 'node:http';
import type http2 from 'node:http2';
import path from 'node:path';
import zlib from 'node:zlib';

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** The URL prefix the console lives under; Vite builds with the same base. */
export const CONSOLE_PATH = '/admin/';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

// Vite names every file under assets/ by its content hash, so a browser may
// keep them for good; index.html must be revalidated to pick up a new build.
const HASHED_CACHE = 'public, max-age=31536000, immutable';
const UNHASHED_CACHE = 'no-cache';
// The console needs nothing but its own origin.
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'referrer-policy': 'no-referrer',
};

/** dist/console below the package root, whether we run from src/ (tests) or dist/src/ (npm start). */
export function defaultConsoleRoot(from = import.meta.dirname): string {
  let directory = from;
  while (!fs.existsSync(path.join(directory, 'package.json')) && path.dirname(directory) !== directory) directory = path.dirname(directory);
  return path.join(directory, 'dist', 'console');
}

/**
 * Returns a function that answers GET/HEAD under /admin and returns true, or
 * returns false for every other request (the RPCs).
 */
export function consoleFiles(root = defaultConsoleRoot()): (request: Request, response: Response) => boolean {
  const resolved_root = path.resolve(root);
  return (request, response) => {
    const url = request.url ?? '';
    if (!(url === '/admin' || url.startsWith('/admin/') || url.startsWith('/admin?'))) return false;
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      finish(response, request, 405, { allow: 'GET, HEAD', 'content-type': CONTENT_TYPES['.txt'] }, 'method not allowed\n');
      return true;
    }
    const pathname = url.split(/[?#]/, 1)[0];
    if (pathname === '/admin') {
      finish(response, request, 308, { location: CONSOLE_PATH + url.slice('/admin'.length) }, '');
      return true;
    }
    const file = resolveFile(resolved_root, pathname.slice(CONSOLE_PATH.length));
    if (file === undefined) {
      finish(response, request, 404, { 'content-type': CONTENT_TYPES['.txt'] }, 'not found\n');
      return true;
    }
    if (file === null) {
      finish(response, request, 404, { 'content-type': CONTENT_TYPES['.txt'] }, 'the admin console is not built; run `npm run build`\n');
      return true;
    }
    sendFile(request, response, file);
    return true;
  };
}

/**
 * The file for a path below the root: the file itself, index.html for a
 * client route (no extension), undefined when there is nothing to serve, null
 * when the console was never built. Never a path outside the root.
 */
function resolveFile(root: string, relative: string): { path: string; hashed: boolean } | undefined | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(relative);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const candidate = path.resolve(root, '.' + path.posix.normalize('/' + decoded));
  if (candidate !== root && !candidate.startsWith(root + path.sep)) return undefined;
  const index = path.join(root, 'index.html');
  if (!fs.existsSync(index)) return null;
  const stat = fs.statSync(candidate, { throwIfNoEntry: false });
  if (stat?.isFile()) return { path: candidate, hashed: path.relative(root, candidate).startsWith('assets' + path.sep) };
  // A missing asset is a 404; any other path is a client route of the single-page app.
  if (path.extname(decoded) !== '') return undefined;
  return { path: index, hashed: false };
}

interface CachedFile {
  readonly modified_ms: number;
  readonly raw: Buffer;
  /** Gzipped once, for text files worth compressing (the script is ~430 KB raw, ~130 KB gzipped). */
  readonly gzipped: Buffer | undefined;
}

// Bounded by the build's file count (a handful); a rebuild replaces entries by mtime.
const file_cache = new Map<string, CachedFile>();
const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

function readCached(file: string): CachedFile {
  const modified_ms = fs.statSync(file).mtimeMs;
  const cached = file_cache.get(file);
  if (cached?.modified_ms === modified_ms) return cached;
  const raw = fs.readFileSync(file);
  const entry = { modified_ms, raw, gzipped: COMPRESSIBLE.has(path.extname(file)) && raw.length > 1024 ? zlib.gzipSync(raw) : undefined };
  file_cache.set(file, entry);
  return entry;
}

function sendFile(request: Request, response: Response, file: { path: string; hashed: boolean }): void {
  let cached: CachedFile;
  try {
    cached = readCached(file.path);
  } catch {
    finish(response, request, 404, { 'content-type': CONTENT_TYPES['.txt'] }, 'not found\n');
    return;
  }
  const accepts_gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
  const gzip = accepts_gzip && cached.gzipped !== undefined;
  finish(
    response,
    request,
    200,
    {
      'content-type': CONTENT_TYPES[path.extname(file.path)] ?? 'application/octet-stream',
      'cache-control': file.hashed ? HASHED_CACHE : UNHASHED_CACHE,
      vary: 'accept-encoding',
      ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      ...SECURITY_HEADERS,
    },
    gzip ? cached.gzipped! : cached.raw,
  );
}

function finish(response: Response, request: Request, status: number, headers: Record<string, string>, body: string | Buffer): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  (response as http.ServerResponse).writeHead(status, { ...headers, 'content-length': String(bytes.length) });
  (response as http.ServerResponse).end(request.method === 'HEAD' ? undefined : bytes);
}

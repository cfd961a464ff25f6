// Serves dist/ on http://localhost:$PORT (5173 by default): a static server for trying the app.
// Any static file server does; Warden must list this origin in CORS_ORIGINS.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'dist');
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
};
const port = Number(process.env.PORT ?? 5173);
const host = process.env.HOST ?? '127.0.0.1';

createServer((request, response) => {
  const pathname = new URL(request.url ?? '/', 'http://x').pathname;
  const file = path.join(root, pathname === '/' ? 'index.html' : path.normalize(pathname));
  const type = types[path.extname(file)];
  if (!file.startsWith(root + path.sep) || !type || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    return;
  }
  response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
  createReadStream(file).pipe(response);
}).listen(port, host, () => console.log(`Warden web example at http://localhost:${port}/`));

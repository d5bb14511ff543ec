// Next.js config of the reference app: a production build, nothing exotic.
// better-sqlite3 is a native addon, so it is loaded from node_modules at run time, not bundled.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export default {
  serverExternalPackages: ['better-sqlite3'],
  outputFileTracingRoot: root,
  turbopack: { root },
  poweredByHeader: false,
};

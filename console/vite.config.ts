/**
 * Builds the admin console into dist/console, which the server serves at
 * /admin/ (src/server/console.ts). Vite 8 compiles TSX with oxc, so no React
 * plugin is needed for a production build.
 */
import path from 'node:path';
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic' } },
  build: {
    outDir: path.resolve(import.meta.dirname, '../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: true,
    rolldownOptions: {
      // React Query marks its modules "use client" for server components; a
      // browser-only bundle has nothing to preserve.
      onwarn(warning, warn) {
        if (warning.code !== 'MODULE_LEVEL_DIRECTIVE') warn(warning);
      },
    },
  },
  server: { fs: { allow: [path.resolve(import.meta.dirname, '..')] } },
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The dashboard: plain TypeScript, no framework. Built into dist/web, which `vigil serve` serves
 * at `/`. A relative base keeps it working behind a proxy that mounts Vigil under a path.
 */
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: './',
  logLevel: 'warn',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // Everything inline into two files would fight the CSP; keep assets as files.
    assetsInlineLimit: 0,
  },
});

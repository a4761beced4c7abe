// Bundles src/journey.js (Amplify v5 Auth + axios, as the Xanadu frontend uses them) into dist/journey.js.
import { build } from 'esbuild';

await build({
  entryPoints: ['src/journey.js'],
  outfile: 'dist/journey.js',
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: 'es2020',
  sourcemap: true,
  logLevel: 'warning',
  // Amplify v5's dependencies still read Node's `global` and `process.env`, as under webpack 4.
  define: { global: 'window', 'process.env.NODE_ENV': '"production"' },
});

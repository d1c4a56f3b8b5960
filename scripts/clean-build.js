'use strict';
// Removes what `tsc -p tsconfig.pub.json` wrote beside the TypeScript sources of one package
// (run from the package folder). Hand-written typings under typings/ are kept.
const fs = require('node:fs');
const path = require('node:path');

function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name === 'node_modules' || entry.name === 'test' || entry.name === 'typings') continue;
      walk(full);
    } else if (/\.(js|d\.ts)$/.test(entry.name)) {
      const source = full.replace(/\.d\.ts$|\.js$/, '.ts');
      if (fs.existsSync(source)) fs.rmSync(full);
    }
  }
}

walk(process.cwd());

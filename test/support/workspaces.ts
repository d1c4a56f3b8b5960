import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '../..');

export interface Workspace {
  /** The folder, relative to the root (`plugins/egg-im-store`). */
  dir: string;
  manifest: Record<string, any>;
}

/** The root package.json's workspaces (each pattern is `<folder>/*`), with their package.json. */
export function workspaces(): Workspace[] {
  const root = readJson(path.join(ROOT, 'package.json'));
  return (root.workspaces as string[]).flatMap(pattern => {
    if (!pattern.endsWith('/*') || pattern.slice(0, -2).includes('*')) throw new Error(`unsupported workspace pattern ${pattern}`);
    const parent = pattern.slice(0, -2);
    return fs.readdirSync(path.join(ROOT, parent), { withFileTypes: true })
      .filter(entry => entry.isDirectory() && fs.existsSync(path.join(ROOT, parent, entry.name, 'package.json')))
      .map(entry => ({ dir: `${parent}/${entry.name}`, manifest: readJson(path.join(ROOT, parent, entry.name, 'package.json')) }));
  });
}

/** The workspaces that are published (not `private`). */
export function publishedWorkspaces(): Workspace[] {
  return workspaces().filter(ws => !ws.manifest.private);
}

function readJson(file: string): Record<string, any> {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

const IMPORT = /(?:\bfrom|\bimport|\brequire\(|\bimport\(|reference types=)\s*['"]([^'".][^'"]*)['"]/g;

/**
 * The packages that the files under `dir` accepted by `include` import (Node's own modules left out), each with
 * one file that does, relative to `dir`. Folders named in `skip` are not entered.
 */
export function importedPackages(dir: string, include: (name: string) => boolean, skip: Set<string>, base = dir, found = new Map<string, string>()): Map<string, string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!skip.has(entry.name)) importedPackages(file, include, skip, base, found);
    } else if (include(entry.name)) {
      for (const [ , specifier ] of fs.readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const parts = specifier.split('/');
        const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
        if (specifier.startsWith('node:') || builtinModules.includes(name) || name === 'node') continue;
        if (!found.has(name)) found.set(name, path.relative(base, file));
      }
    }
  }
  return found;
}

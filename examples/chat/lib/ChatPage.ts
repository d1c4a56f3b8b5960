import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as esbuild from 'esbuild';

const WEB = path.join(__dirname, '..', 'web');

/** What the page is made of, by URL path. */
export const PAGE_PATHS = [ '/', '/assets/app.js', '/assets/app.css' ] as const;
export type PagePath = typeof PAGE_PATHS[number];

export interface PageFile {
  type: string;
  body: string;
  etag: string;
}

/**
 * The chat's web page: index.html, its style and its script. The script (web/main.ts, the typed client and
 * socket.io-client) is bundled by esbuild in memory when the app boots, about a tenth of a second: nothing to
 * build by hand, nothing generated on disk or in git, and every worker serves the same bytes for the same sources.
 */
export class ChatPage {
  private constructor(private readonly files: Map<PagePath, PageFile>) {}

  static async build(): Promise<ChatPage> {
    let script: string;
    try {
      const result = await esbuild.build({
        entryPoints: [ path.join(WEB, 'main.ts') ],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: [ 'es2022', 'chrome110', 'firefox110', 'safari16' ],
        minify: true,
        legalComments: 'none',
        logLevel: 'silent',
      });
      script = result.outputFiles[0].text;
    } catch (err) {
      throw new Error(`[egg-im-example-chat] the web page did not build: ${(err as Error).message}`);
    }
    const files = new Map<PagePath, PageFile>([
      [ '/', file('text/html; charset=utf-8', await readFile(path.join(WEB, 'index.html'), 'utf8')) ],
      [ '/assets/app.js', file('text/javascript; charset=utf-8', script) ],
      [ '/assets/app.css', file('text/css; charset=utf-8', await readFile(path.join(WEB, 'style.css'), 'utf8')) ],
    ]);
    return new ChatPage(files);
  }

  get(urlPath: PagePath): PageFile {
    return this.files.get(urlPath)!;
  }
}

function file(type: string, body: string): PageFile {
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

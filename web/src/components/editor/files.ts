/** The editor's files (path → text): adding, renaming and removing one, and which language mode it gets. */
import type { SourceFiles } from '../../api/models';

export type Language = 'python' | 'json' | 'text';

export function languageOf(path: string): Language {
  if (/\.py$/i.test(path)) return 'python';
  if (/\.json$/i.test(path)) return 'json';
  return 'text';
}

/**
 * Why a name cannot be used for a file of this editor, or null. Only what the editor itself needs (a
 * name, and one file per name) is checked here; which paths a bundle may hold is the server's to say.
 */
export function nameProblem(files: SourceFiles, path: string, except?: string): string | null {
  if (path === '') return 'Enter a file name, e.g. utils.py or models/config.json.';
  if (path !== except && Object.hasOwn(files, path)) return `There is already a file named ${path}.`;
  return null;
}

/** Paths in the order the file list shows them: manifest.json first, then by name. */
export function sortedPaths(files: SourceFiles): string[] {
  return Object.keys(files).sort((a, b) =>
    a === 'manifest.json' ? -1 : b === 'manifest.json' ? 1 : a.localeCompare(b));
}

export function withFile(files: SourceFiles, path: string, text: string): SourceFiles {
  return { ...files, [path]: text };
}

export function withoutFile(files: SourceFiles, path: string): SourceFiles {
  const rest = { ...files };
  delete rest[path];
  return rest;
}

/** Rename a file, keeping its text. */
export function renamed(files: SourceFiles, from: string, to: string): SourceFiles {
  if (from === to || !Object.hasOwn(files, from)) return files;
  const text = files[from] ?? '';
  return withFile(withoutFile(files, from), to, text);
}

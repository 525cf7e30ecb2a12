/** A new model's manifest.json: the template's, with the add-model form's values written in. */
import type { ModelInfo, SourceFiles } from '../../api/models';

export const MANIFEST = 'manifest.json';

/** The manifest fields the form fills, in the order the form asks for them. */
const FORM_FIELDS = ['name', 'description', 'architecture', 'task', 'modality'] as const;

function parsedObject(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : {};
  } catch {
    return {};
  }
}

/**
 * `manifest.json` with `info`'s name, description, architecture, task and modality; everything else of the
 * template's manifest (labels, entry point, requirements…) stays as it was, in its order.
 */
export function prefillManifest(manifestText: string | undefined, info: ModelInfo): string {
  const manifest = parsedObject(manifestText);
  for (const field of FORM_FIELDS) manifest[field] = info[field];
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** A template's files with the model's information in their manifest. */
export function prefillFiles(templateFiles: SourceFiles, info: ModelInfo): SourceFiles {
  return { ...templateFiles, [MANIFEST]: prefillManifest(templateFiles[MANIFEST], info) };
}

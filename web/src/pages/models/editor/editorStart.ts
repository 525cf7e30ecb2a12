/** What the editor opens with: the newest usable version's source, or a template with the model's information. */
import * as models from '../../../api/models';
import type { ModelDetail, SourceFiles } from '../../../api/models';
import { MANIFEST, prefillFiles, prefillManifest } from '../../../components/editor/manifest';
import type { ReusedWeight } from './weights';

export interface EditorStart {
  model: ModelDetail;
  files: SourceFiles;
  weights: ReusedWeight[];
  /** Where the files came from, said above the editor. */
  origin: { version: number } | { template: string | null };
}

/** The newest version that kept its bundle (failed ones keep none). */
export function baseVersion(model: ModelDetail): number | null {
  return model.versions.find((version) => version.status !== 'failed')?.version ?? null;
}

export async function loadEditorStart(modelId: string, templateId: string | null): Promise<EditorStart> {
  const model = await models.getModel(modelId);
  const base = baseVersion(model);
  if (base !== null) {
    const source = await models.versionSource(modelId, base);
    return {
      model,
      files: source.files,
      weights: source.weights.map((weight) => ({ path: weight.path, size: weight.size, fromVersion: base })),
      origin: { version: base },
    };
  }
  const { items } = await models.listTemplates();
  const template = items.find((item) => item.id === templateId) ?? items.find((item) => item.task === model.task) ?? items[0];
  return {
    model,
    files: template ? prefillFiles(template.files, model) : { [MANIFEST]: prefillManifest(undefined, model) },
    weights: [],
    origin: { template: template?.title ?? null },
  };
}

import type { ModelDetail, ModelLabel } from '../../../api/models';
import { Section } from '../../../components/Section';
import { formatDateTime } from '../../../lib/format';
import { ACCESS_LABELS, TASK_LABELS } from '../labels';

function LabelItem({ label }: { label: ModelLabel }) {
  const colour = label.colour ? `rgb(${label.colour.join(', ')})` : undefined;
  return (
    <li>
      <span className="label-swatch" style={colour ? { background: colour } : undefined} aria-hidden="true" />
      <span className="strong">{label.name}</span>
      {label.code && <span className="muted"> · {label.code.scheme} {label.code.value} ({label.code.meaning})</span>}
    </li>
  );
}

/** What the model is: its task, modality, architecture, owner, my access, its versions in use and its labels. */
export function ModelInfo({ model }: { model: ModelDetail }) {
  return (
    <Section title="Information">
      {model.description && <p>{model.description}</p>}
      <dl className="info-list">
        <dt>Task</dt><dd>{TASK_LABELS[model.task] ?? model.task}</dd>
        <dt>Modality</dt><dd>{model.modality}</dd>
        <dt>Architecture</dt><dd>{model.architecture || '—'}</dd>
        <dt>Owner</dt><dd>{model.owner.name}</dd>
        <dt>Your access</dt><dd>{ACCESS_LABELS[model.access] ?? model.access}</dd>
        <dt>Active version</dt><dd>{model.active_version ?? '—'}</dd>
        <dt>Published version</dt><dd>{model.published_version ?? '—'}</dd>
        <dt>Updated</dt><dd>{formatDateTime(model.updated_at)}</dd>
      </dl>
      <h3 className="subheading">Labels</h3>
      {model.labels.length > 0 ? (
        <ul className="plain-list" aria-label="Labels">
          {model.labels.map((label) => <LabelItem key={label.name} label={label} />)}
        </ul>
      ) : (
        <p className="muted">No labels yet: they come from the manifest of the active version.</p>
      )}
    </Section>
  );
}

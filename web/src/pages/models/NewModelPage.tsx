import { useEffect, useState, type FormEvent } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import * as models from '../../api/models';
import { INFER_TYPES, type InferType, type ModelInfo } from '../../api/models';
import { Button, FormError, RadioGroup, SelectField, splitErrors, TextField, type RadioOption } from '../../components/form';
import { Loading } from '../../components/Loading';
import { Section } from '../../components/Section';
import { useAction } from '../../lib/useAction';
import { useLoad } from '../../lib/useLoad';
import { useTitle } from '../../lib/useTitle';
import { TASK_HINTS, TASK_LABELS } from './labels';
import { TextAreaField } from './TextAreaField';
import './models.css';

const TASK_OPTIONS = INFER_TYPES.map((value) => ({ value, label: `${TASK_LABELS[value]}: ${TASK_HINTS[value]}` }));
/** Request fields whose server messages show beside them (422 validation names them in `errors`). */
const FIELD_CODES = { name: [], description: [], architecture: [], task: [], modality: [] };
const EMPTY: ModelInfo = { name: '', description: '', architecture: '', task: 'segmentation', modality: 'CT' };

/** `/models/new`: describe the model and pick the template its code starts from; then on to the editor. */
export function NewModelPage() {
  useTitle('Add a model');
  const navigate = useNavigate();
  const templates = useLoad(models.listTemplates, []);
  const [info, setInfo] = useState<ModelInfo>(EMPTY);
  const [templateId, setTemplateId] = useState('');
  const { busy, error, run } = useAction();
  const errors = splitErrors(error, FIELD_CODES);
  const set = <K extends keyof ModelInfo>(key: K) => (value: ModelInfo[K]) => setInfo((current) => ({ ...current, [key]: value }));

  const items = templates.data?.items ?? [];
  useEffect(() => {
    const first = items[0];
    if (first && templateId === '') chooseTemplate(first.id);
  }, [templates.data]);

  /** A template also suggests its task; the task stays changeable. */
  function chooseTemplate(id: string) {
    setTemplateId(id);
    const task = items.find((item) => item.id === id)?.task;
    if (task) setInfo((current) => ({ ...current, task }));
  }

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const body: ModelInfo = { ...info, name: info.name.trim(), architecture: info.architecture.trim(), modality: info.modality.trim() };
    const result = await run(() => models.createModel(body));
    if (!result.ok) return;
    const query = templateId ? `?template=${encodeURIComponent(templateId)}` : '';
    navigate(`/models/${encodeURIComponent(result.value.id)}/edit${query}`);
  }

  const templateOptions: RadioOption<string>[] = items.map((item) => ({
    value: item.id, label: item.title, hint: `${TASK_LABELS[item.task] ?? item.task}; files: ${Object.keys(item.files).sort().join(', ')}`,
  }));
  return (
    <div className="stack">
      <p><Link to="/models">All models</Link></p>
      <header className="page-header">
        <h1>Add a model</h1>
        <p className="muted">Describe your model and choose the code it starts from. You write and publish its first version next.</p>
      </header>
      <Section title="Your model">
        <form className="form" onSubmit={(event) => void submit(event)} noValidate aria-busy={busy} aria-label="Add a model">
          <FormError error={errors.form} />
          <TextField label="Name" value={info.name} onValueChange={set('name')} required maxLength={200} error={errors.field('name')} />
          <TextAreaField label="Description" value={info.description} onValueChange={set('description')}
            hint="What it does and on which images, for the people who will run it." error={errors.field('description')} />
          <TextField label="Architecture" value={info.architecture} onValueChange={set('architecture')}
            hint="e.g. 3D U-Net, DenseNet121, threshold + connected components." error={errors.field('architecture')} />
          <SelectField<InferType> label="Task" value={info.task} options={TASK_OPTIONS} onChange={set('task')} />
          {errors.field('task') && <p className="field-error">{errors.field('task')}</p>}
          <TextField label="Modality" value={info.modality} onValueChange={set('modality')} spellCheck={false}
            hint="The DICOM modality of the series it reads, e.g. CT or MR." error={errors.field('modality')} />
          {templates.data ? (
            <RadioGroup legend="Start from" name="template" options={templateOptions} value={templateId} onChange={chooseTemplate} />
          ) : templates.error ? (
            <FormError error={templates.error} />
          ) : (
            <Loading label="Loading the templates…" />
          )}
          <div className="button-row">
            <Button type="submit" busy={busy}>Add the model</Button>
          </div>
        </form>
      </Section>
    </div>
  );
}

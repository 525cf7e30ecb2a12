import type { ApiError } from '../../../api';
import type { ServiceState } from '../../../api/models';
import { Alert } from '../../../components/Alert';
import { FormError } from '../../../components/form';
import { Section } from '../../../components/Section';
import { plural } from '../../../lib/format';
import { SERVICE_LABELS } from '../labels';

/** The active version's sandboxed service: idle, starting or ready, and how many instances run. */
export function ServiceStatus({ service, error }: { service: ServiceState | undefined; error: ApiError | null }) {
  return (
    <Section title="Service">
      <FormError error={error} />
      {service && (
        <>
          <p aria-live="polite">
            <span className="strong">{SERVICE_LABELS[service.state] ?? service.state}</span>
            {service.version !== null && <> · version {service.version}</>}
            {' · '}{plural(service.instances, 'instance', 'instances')}
          </p>
          {service.last_failure && <Alert tone="warning" title="Its last start failed"><p>{service.last_failure}</p></Alert>}
        </>
      )}
    </Section>
  );
}

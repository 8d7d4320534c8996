/**
 * Prometheus text exposition format 0.0.4, for node_exporter's textfile
 * collector: `# HELP` and `# TYPE` before each metric's samples, label values
 * escaped as the format says. Counts and times only: no secret name.
 */
import type { StoreStats } from '../store/stats.js';

type Labels = Record<string, string>;

interface Metric {
  name: string;
  help: string;
  samples: [labels: Labels, value: number][];
}

/** Label values: backslash, double quote and newline escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: backslash and newline escaped. */
function helpText(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function sample(name: string, labels: Labels, value: number): string {
  const l = Object.entries(labels).map(([k, v]) => `${k}="${labelValue(v)}"`).join(',');
  return `${name}{${l}} ${Number.isFinite(value) ? String(value) : 'NaN'}`;
}

function render(metrics: Metric[]): string {
  return metrics.map((m) => [
    `# HELP ${m.name} ${helpText(m.help)}`,
    `# TYPE ${m.name} gauge`,
    ...m.samples.map(([labels, value]) => sample(m.name, labels, value)),
  ].join('\n')).join('\n') + '\n';
}

const seconds = (ms: number) => ms / 1000;

/** The store's numbers as Prometheus metrics (all gauges), each labelled with the store's path. */
export function prometheusText(s: StoreStats): string {
  const store = { store: s.path };
  const one = (value: number): [Labels, number][] => [[store, value]];
  const byLabel = (label: string, counts: Record<string, number>): [Labels, number][] =>
    Object.entries(counts).map(([k, n]) => [{ ...store, [label]: k }, n]);
  return render([
    { name: 'strongbox_info', help: 'The store: id, schema version and master key kind (always 1).',
      samples: [[{ ...store, store_id: s.storeId, schema: String(s.schemaVersion), master: s.masterKind }, 1]] },
    { name: 'strongbox_secrets', help: 'Secrets by the state of their current version.', samples: byLabel('state', s.secrets) },
    { name: 'strongbox_versions', help: 'Versions by state.', samples: byLabel('state', s.versions) },
    { name: 'strongbox_data_keys', help: 'Data keys by status.', samples: byLabel('status', s.dataKeys) },
    { name: 'strongbox_primary_key_age_seconds', help: 'Age of the primary data key.', samples: one(seconds(s.primaryKey.ageMs)) },
    { name: 'strongbox_oldest_key_age_seconds', help: 'Age of the oldest data key not destroyed.', samples: one(seconds(s.oldestKey.ageMs)) },
    { name: 'strongbox_last_key_rotation_timestamp_seconds', help: 'When the primary data key was made (the last rotate-keys, or the store\'s creation).',
      samples: one(seconds(s.primaryKey.createdAt.getTime())) },
    { name: 'strongbox_versions_needing_rewrap', help: 'Versions still sealed under a data key other than the primary.', samples: one(s.versionsNeedingRewrap) },
    { name: 'strongbox_secrets_with_policy', help: 'Secrets with a rotation policy.', samples: one(s.secretsWithPolicy) },
    { name: 'strongbox_rotation_overdue_secrets', help: 'Live secrets past their rotation date or expired (store due).', samples: one(s.rotationOverdueSecrets) },
    { name: 'strongbox_expired_secrets', help: 'Live secrets whose value has expired.', samples: one(s.expiredSecrets) },
    { name: 'strongbox_last_value_rotation_timestamp_seconds', help: 'The newest value rotation recorded by store rotate (no sample when none).',
      samples: s.lastValueRotationAt ? one(seconds(s.lastValueRotationAt.getTime())) : [] },
    { name: 'strongbox_last_master_rotation_timestamp_seconds', help: 'When store rotate-master last finished (no sample when none recorded).',
      samples: s.lastMasterRotationAt ? one(seconds(s.lastMasterRotationAt.getTime())) : [] },
    { name: 'strongbox_last_backup_timestamp_seconds', help: 'When store backup last finished (no sample when none recorded).',
      samples: s.lastBackupAt ? one(seconds(s.lastBackupAt.getTime())) : [] },
    { name: 'strongbox_audit_entries', help: 'Audit entries kept (after retention).', samples: one(s.audit.entries) },
    { name: 'strongbox_audit_chain_intact', help: 'Whether the whole audit chain checked out (1) or not (0); no sample unless stats ran with --verify-audit.',
      samples: s.audit.chain === 'unverified' ? [] : one(s.audit.chain === 'intact' ? 1 : 0) },
  ]);
}

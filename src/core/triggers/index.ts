// Triggers: what starts runs besides a person — cron schedules, topic events, webhooks — plus the
// resource cost of what ran. The service (service.ts) owns the loop; the rest are its parts.
export { TriggerService, pipelineTriggers, type TriggerServiceDeps } from './service.ts';
export { checkCron, checkSchedule, nextFires, dueOccurrences, CATCH_UP_CAP } from './cron.ts';
export { noSecrets, sign, verifySignature, SIGNATURE_HEADER, type SecretSource } from './webhook.ts';
export { recordJobCosts } from './cost.ts';
export { eventStatus, eventRetryDelay, TOPIC } from './topics.ts';
export type { TriggerStore, Cost } from './store.ts';

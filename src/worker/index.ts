export { createRunQueue } from './run-queue.ts';
export type { CancelRequest, ClaimForCancelRequest, ClaimRecord, ClaimRequest, EnqueueRequest, QueuedBudget, QueuedRun, QueueListener, QueueState, QueueSubscription, RunQueue, RunQueueOptions, Settlement } from './run-queue.ts';
export { createWorker } from './worker.ts';
export type { Worker, WorkerEvent, WorkerOptions, WorkerStopReport } from './worker.ts';
export type { WorkerAgent } from './agent-catalog.ts';
export { sweepApprovals } from './approval-sweep.ts';
export type { ApprovalSweepOptions } from './approval-sweep.ts';
export { cancelChannel, queueChannel, queueSchemaVersion, sessionEventsChannel } from './queue-schema.ts';

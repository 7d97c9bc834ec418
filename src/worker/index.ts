export { createRunQueue } from './run-queue.ts';
export type { ClaimRecord, ClaimRequest, EnqueueRequest, QueuedRun, QueueListener, QueueState, RunQueue, RunQueueOptions, Settlement } from './run-queue.ts';
export { createWorker } from './worker.ts';
export type { Worker, WorkerEvent, WorkerOptions, WorkerStopReport } from './worker.ts';
export type { WorkerAgent } from './agent-catalog.ts';
export { sweepApprovals } from './approval-sweep.ts';
export type { ApprovalSweepOptions } from './approval-sweep.ts';
export { queueChannel, queueSchemaVersion } from './queue-schema.ts';

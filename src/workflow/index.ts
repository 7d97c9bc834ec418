export { step, modelStep, agentStep } from './steps.ts';
export type { ModelPrompt, ModelStepOptions, AgentStepOptions } from './steps.ts';
export { chain, Chain } from './chain.ts';
export { schemaGate, predicateGate, modelGate } from './gates.ts';
export type { Gate, GateVerdict, GateOptions, SafeParseSchema, ModelGateOptions } from './gates.ts';
export { route, modelClassifier, parseClassification } from './route.ts';
export type { Classification, ClassifyFunction, ModelClassifierOptions, RouteOptions } from './route.ts';
export { parallel } from './parallel.ts';
export type { ParallelOptions, ParallelResults } from './parallel.ts';
export { vote, majority, threshold, judge } from './vote.ts';
export type { Aggregation, Ballot, JudgeInput, VoteOptions, VoteResult } from './vote.ts';
export type { BranchFailure, FailurePolicy, FanOutOptions } from './fan-out.ts';
export { ResourceLocks } from './resource-locks.ts';
export { startWorkflow, resumeWorkflow, definitionHash } from './run-workflow.ts';
export type { WorkflowRun, WorkflowRunOptions, WorkflowStartOptions } from './run-workflow.ts';
export type {
  AgentRunRequest,
  ChildScope,
  DecisionEvent,
  StepContext,
  StepOutput,
  StepScope,
  StepShape,
  StepSpend,
  WorkflowExecution,
  WorkflowResult,
  WorkflowServices,
  WorkflowStep,
} from './workflow-types.ts';

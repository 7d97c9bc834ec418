export { defineAgent, isAgentDefinition } from './define-agent.ts';
export type { AgentDefinition, AgentOptions, AgentLimitOptions, ResolvedAgentLimits } from './define-agent.ts';
export { startSession, resumeSession, inlineOutputLimit } from './run-session.ts';
export type { StartOptions } from './run-session.ts';
export type { LoopDependencies, ModelCaller, RunOptions, SessionResult, SessionRun, SessionUpdate } from './loop-types.ts';
export { foldEvents, applyEvent, initialState, zeroUsage, addUsage } from './session-state.ts';
export type { SessionState, ToolCallState } from './session-state.ts';
export { nextStep } from './next-step.ts';
export type { NextStep } from './next-step.ts';

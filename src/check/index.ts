export { checkSystem } from './check-system.ts';
export { formatCheckReport } from './format-report.ts';
export type { FormatOptions } from './format-report.ts';
export { isWorkflowStep, systemFromModule } from './system-module.ts';
export type { AgentSystem, CheckFact, CheckReport, CheckViolation, PropertyId, PropertyResult } from './check-types.ts';

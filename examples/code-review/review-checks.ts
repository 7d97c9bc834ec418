import type { AgentDefinition, EvalCheck, SessionEvent } from '../../src/index.ts';
import { reviewSchema } from './agent.ts';
import type { Review } from './agent.ts';

/** The review in an answer: its JSON parsed and validated, or null when the answer is not a review. */
export function parseReview(output: string | null): Review | null {
  if (output === null) return null;
  const text = output.trim().replace(/^```(?:json)?\s*|\s*```$/g, '');
  try {
    const parsed = reviewSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** A problem the change planted: the review must comment on this line of this file, at least this severe. */
export interface PlantedProblem {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly minimumSeverity: 'low' | 'medium' | 'high' | 'critical';
}

const severityRank = { low: 0, medium: 1, high: 2, critical: 3 } as const;

/** Passes when the final review has a comment at the planted problem's file and line, severe enough. */
export function findsPlantedProblem(problem: PlantedProblem): EvalCheck {
  return {
    name: problem.name,
    kind: 'output',
    evaluate: ({ output }) => {
      const review = parseReview(output);
      if (review === null) return { passed: false, detail: 'The answer is not a review: JSON {"comments":[{file,line,severity,message}]} expected.' };
      const atLine = review.comments.filter((comment) => comment.file === problem.file && comment.line === problem.line);
      const severe = atLine.find((comment) => severityRank[comment.severity] >= severityRank[problem.minimumSeverity]);
      if (severe !== undefined) return { passed: true, detail: `${problem.file}:${problem.line} (${severe.severity}): ${severe.message.slice(0, 160)}` };
      const near = review.comments.filter((comment) => comment.file === problem.file).map((comment) => comment.line);
      return {
        passed: false,
        detail: atLine.length > 0 ? `${problem.file}:${problem.line} is flagged only ${atLine.map((comment) => comment.severity).join(', ')}, below ${problem.minimumSeverity}.` : `No comment at ${problem.file}:${problem.line} (comments on ${problem.file}: lines ${near.join(', ') || 'none'}).`,
      };
    },
  };
}

/** Names of the tools an agent tree holds that are not read-only, walking into every subagent. */
export function writeToolsOf(agent: AgentDefinition, seen = new Set<AgentDefinition>()): string[] {
  if (seen.has(agent)) return [];
  seen.add(agent);
  return [...agent.tools.values()].flatMap((tool) => ('subagent' in tool && tool.subagent !== undefined ? writeToolsOf((tool.subagent as { agent: AgentDefinition }).agent, seen) : tool.risk === 'read' ? [] : [`${agent.name}.${tool.name}`]));
}

/** No agent of the tree holds a tool that can change anything, and every call the run made was to a read-only tool or a reviewer. */
export function readOnlyReview(lead: AgentDefinition): EvalCheck {
  const writeTools = writeToolsOf(lead);
  return {
    name: 'read-only-tools',
    kind: 'trajectory',
    evaluate: ({ toolCalls }) => {
      const known = new Set(toolNamesOf(lead));
      const strangers = [...new Set(toolCalls.map((call) => call.tool).filter((tool) => !known.has(tool)))];
      if (writeTools.length > 0) return { passed: false, detail: `Tools that are not read-only: ${writeTools.join(', ')}.` };
      if (strangers.length > 0) return { passed: false, detail: `Calls to tools the review does not hold: ${strangers.join(', ')}.` };
      return { passed: true, detail: `${toolCalls.length} calls, every one to a read-only tool or a reviewer.` };
    },
  };
}

function toolNamesOf(agent: AgentDefinition, seen = new Set<AgentDefinition>()): string[] {
  if (seen.has(agent)) return [];
  seen.add(agent);
  return [...agent.tools.values()].flatMap((tool) => [tool.name, ...('subagent' in tool && tool.subagent !== undefined ? toolNamesOf((tool.subagent as { agent: AgentDefinition }).agent, seen) : [])]);
}

/** Every named reviewer ran as its own child session of the case and completed. */
export function everyReviewerRan(agents: readonly string[]): EvalCheck {
  return {
    name: 'every-reviewer-ran',
    kind: 'trajectory',
    evaluate: ({ events }) => {
      const started = new Map<string, string>();
      for (const event of events as readonly SessionEvent[]) if (event.type === 'child-start') started.set(event.childSessionId, event.agent);
      const completed = new Set(events.flatMap((event) => (event.type === 'child-end' && event.status === 'completed' ? [started.get(event.childSessionId) ?? ''] : [])));
      const missing = agents.filter((agent) => !completed.has(agent));
      return missing.length === 0 ? { passed: true, detail: `${agents.join(', ')} each ran and completed.` } : { passed: false, detail: `Did not complete: ${missing.join(', ')}.` };
    },
  };
}

import type { CheckReport, PropertyResult } from './check-types.ts';

export interface FormatOptions {
  /** Print the facts each proof relied on. */
  readonly explain: boolean;
  /** What was checked, for the heading: a module path. */
  readonly subject: string;
}

/**
 * The report as lines for a person: one line per property, each counterexample path under it, and with `explain` the
 * facts each proof relied on. This is what `keel check` prints.
 * @example
 * ```ts
 * const report = checkSystem({ agents: [desk] });
 * console.log(formatCheckReport(report, { explain: true, subject: 'support desk' }).join('\n'));
 * ```
 */
export function formatCheckReport(report: CheckReport, options: FormatOptions): string[] {
  const { agents, workflows, tools, delegations } = report.counts;
  const lines = [`${options.subject}: ${agents} agent${plural(agents)}, ${workflows} workflow${plural(workflows)}, ${tools} tool${plural(tools)}, ${delegations} delegation${plural(delegations)}`, ''];
  for (const property of report.properties) lines.push(...formatProperty(property, options.explain));
  const failed = report.properties.filter((property) => !property.holds);
  lines.push(
    failed.length === 0
      ? `All ${report.properties.length} properties hold.${options.explain ? '' : ' (--explain lists the facts each proof relied on)'}`
      : `${failed.length} of ${report.properties.length} properties violated: ${failed.map((property) => property.id).join(', ')}.`,
  );
  return lines;
}

function formatProperty(property: PropertyResult, explain: boolean): string[] {
  const lines = [`${property.holds ? 'ok  ' : 'FAIL'} ${property.id.padEnd(12)}${property.title}`];
  for (const violation of property.violations) {
    lines.push(`       ${violation.path.join(' → ')}`, `         ${violation.message}`);
  }
  if (explain && property.facts.length > 0) {
    lines.push('       relied on:');
    for (const fact of property.facts) lines.push(`         ${fact.subject}: ${fact.statement}`);
  }
  if (explain || property.violations.length > 0) lines.push('');
  return lines;
}

function plural(count: number): string {
  return count === 1 ? '' : 's';
}

import { useId, useMemo } from 'react';
import type { ReactNode } from 'react';
import { checkInput, compileValidator } from '../schema/validate-input.ts';
import type { InputCheck } from '../schema/validate-input.ts';

export interface JsonEditorProps {
  readonly label: string;
  readonly value: string;
  readonly onChange: (text: string) => void;
  /** The tool's input schema; without one only the JSON syntax is checked. */
  readonly schema: Readonly<Record<string, unknown>> | null;
  /** Problems the server reported for the last submission, shown with the editor's own. */
  readonly serverError?: string | null;
  readonly children?: (check: InputCheck) => ReactNode;
}

/** A JSON text area checked as you type: syntax first, then the tool's schema, each problem with its path. */
export function JsonEditor(props: JsonEditorProps) {
  const id = useId();
  const validator = useMemo(() => (props.schema === null ? null : compileValidator(props.schema)), [props.schema]);
  const check = useMemo(() => checkInput(props.value, validator), [props.value, validator]);
  const problemsId = `${id}-problems`;
  const lines = Math.min(Math.max(props.value.split('\n').length + 1, 4), 24);
  return (
    <div className="json-editor">
      <label htmlFor={id}>{props.label}</label>
      <textarea
        id={id}
        className="code"
        spellCheck={false}
        rows={lines}
        value={props.value}
        aria-invalid={!check.ok}
        aria-describedby={problemsId}
        onChange={(event) => props.onChange(event.target.value)}
      />
      <div id={problemsId} aria-live="polite">
        {validator !== null && !validator.ok ? <p className="muted">{validator.reason}</p> : null}
        {check.ok ? (
          <p className="valid">Valid{props.schema === null ? ' JSON' : ' against the tool’s input schema'}.</p>
        ) : (
          <ul className="problems" aria-label="Problems in the arguments">
            {check.problems.map((problem, index) => (
              <li key={index}>
                <code>{problem.path === '' ? '(input)' : problem.path}</code> {problem.message}
              </li>
            ))}
          </ul>
        )}
        {props.serverError === null || props.serverError === undefined ? null : (
          <p role="alert" className="problems">
            The server refused the arguments: {props.serverError}
          </p>
        )}
      </div>
      {props.children?.(check)}
    </div>
  );
}

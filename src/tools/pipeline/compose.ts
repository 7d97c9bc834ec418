/**
 * Runs stages as nested middleware: each stage gets the input and a `next` that runs the rest.
 * Calling `next` twice is a bug in a stage, and is refused rather than running the rest twice.
 */
export function compose<Input, Output>(
  stages: readonly ((input: Input, next: () => Promise<Output>) => Promise<Output>)[],
  terminal: (input: Input) => Promise<Output>,
): (input: Input) => Promise<Output> {
  return (input) => {
    let lastIndex = -1;
    const dispatch = (index: number): Promise<Output> => {
      if (index <= lastIndex) return Promise.reject(new Error('A pipeline stage called next() more than once.'));
      lastIndex = index;
      const stage = stages[index];
      if (stage === undefined) return terminal(input);
      return stage(input, () => dispatch(index + 1));
    };
    return dispatch(0);
  };
}

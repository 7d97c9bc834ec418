export type TokenEncoding = 'o200k_base' | 'cl100k_base';

export interface TokenCounter {
  /** `tokenizer` when the count is exact for the model's encoding, `estimate` when it is calibrated or a heuristic. */
  readonly method: 'tokenizer' | 'estimate';
  readonly encoding: TokenEncoding | 'characters';
  readonly factor: number;
  count(text: string): number;
}

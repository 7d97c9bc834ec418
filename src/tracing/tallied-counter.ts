import { diag } from '@opentelemetry/api';
import type { Attributes, Meter, MetricOptions } from '@opentelemetry/api';

/** The recording side of a counter: what `MetricsRecorder` calls, as it would a `Counter`. */
export interface CountingInstrument {
  add(value: number, attributes: Attributes): void;
}

interface Tally {
  readonly attributes: Attributes;
  value: number;
}

/**
 * The identity of an attribute set, as OpenTelemetry's own `hashAttributes` computes it (sorted keys), cached per
 * attribute object: the recorder reuses the same objects for every turn of a session.
 */
const keysByObject = new WeakMap<Attributes, string>();

function keyOf(attributes: Attributes): string {
  const cached = keysByObject.get(attributes);
  if (cached !== undefined) return cached;
  const key = JSON.stringify(Object.keys(attributes).sort().map((name) => [name, attributes[name]]));
  keysByObject.set(attributes, key);
  return key;
}

/**
 * A monotonic counter kept as plain sums per attribute set and handed to OpenTelemetry when a reader collects (an
 * observable counter): the same metric, name, attributes and values at export, without the SDK's hashing and
 * bookkeeping on every increment of every turn.
 */
export function talliedCounter(meter: Meter, name: string, options: MetricOptions): CountingInstrument {
  const tallies = new Map<string, Tally>();
  meter.createObservableCounter(name, options).addCallback((result) => {
    for (const tally of tallies.values()) result.observe(tally.value, tally.attributes);
  });
  return {
    add(value, attributes) {
      // As the SDK's counter does: a negative or non-numeric increment is dropped with a warning.
      if (typeof value !== 'number' || !(value >= 0)) {
        diag.warn(`non-positive or non-number value provided to counter ${name}: ${String(value)}`);
        return;
      }
      const key = keyOf(attributes);
      const tally = tallies.get(key);
      if (tally === undefined) tallies.set(key, { attributes: { ...attributes }, value });
      else tally.value += value;
    },
  };
}

import { useCallback, useEffect, useEffectEvent, useState } from 'react';

export interface Resource<T> {
  /** The last value loaded for this key; kept while a refresh is under way so live pages do not flicker. */
  readonly data: T | undefined;
  readonly error: unknown;
  /** True until the first answer for the current key. */
  readonly loading: boolean;
  readonly reload: () => void;
}

interface Loaded<T> {
  readonly key: string;
  readonly data: T | undefined;
  readonly error: unknown;
}

/**
 * Loads what `key` names (null: nothing to load) and reloads it every `refreshMs` when given. An answer for a key
 * that is no longer current is dropped, so a fast user never sees the previous page's data under the new heading.
 */
export interface ResourceOptions {
  /** Ask again this often while the key stays the same. */
  readonly refreshMs?: number | undefined;
  /** Ask again whenever this changes (something the page saw suggests the answer changed), keeping the data shown. */
  readonly refreshOn?: string | number | undefined;
}

export function useResource<T>(key: string | null, load: (signal: AbortSignal) => Promise<T>, options: ResourceOptions = {}): Resource<T> {
  const { refreshMs, refreshOn } = options;
  const [loaded, setLoaded] = useState<Loaded<T> | null>(null);
  const [version, setVersion] = useState(0);
  const run = useEffectEvent((signal: AbortSignal) => load(signal));

  useEffect(() => {
    if (key === null) return;
    const controller = new AbortController();
    run(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setLoaded({ key, data, error: null });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) setLoaded((previous) => ({ key, data: previous?.key === key ? previous.data : undefined, error }));
      },
    );
    return () => controller.abort();
  }, [key, version, refreshOn]);

  useEffect(() => {
    if (key === null || refreshMs === undefined) return;
    const timer = setInterval(() => setVersion((value) => value + 1), refreshMs);
    return () => clearInterval(timer);
  }, [key, refreshMs]);

  const reload = useCallback(() => setVersion((value) => value + 1), []);
  const current = loaded !== null && loaded.key === key ? loaded : null;
  return { data: current?.data, error: current?.error ?? null, loading: key !== null && current === null, reload };
}

import { useCallback, useEffect, useRef, useState } from "react";
import { getJSON } from "./api";

export interface Loaded<T> {
  data: T | null;
  error: string | null;
  reload: () => void;
}

/** GET ``path`` once, and again every ``everyMs`` when given (live pages). */
export function useApi<T>(path: string | null, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    alive.current = true;
    if (path === null) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = () => {
      getJSON<T>(path)
        .then((value) => {
          if (!alive.current) return;
          setData(value);
          setError(null);
        })
        .catch((failure: Error) => alive.current && setError(failure.message))
        .finally(() => {
          if (alive.current && everyMs) timer = setTimeout(load, everyMs);
        });
    };
    load();
    return () => {
      alive.current = false;
      clearTimeout(timer);
    };
  }, [path, everyMs, tick]);

  return { data, error, reload };
}

export interface Overview {
  variants: string[]; // every model variant (what training and export accept)
  profiles: string[]; // configs/train/*.toml
  loaded: string[]; // variants the service has loaded
  api_key_required: boolean;
}

/** The server's lists of variants and profiles (fetched once per page). */
export function useVariants(): string[] {
  return useApi<Overview>("overview").data?.variants ?? [];
}

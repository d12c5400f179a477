/** How a failed call is retried: exponential backoff with a cap and full jitter. */
export interface RetryPolicy {
  attempts: number;
  initialMs: number;
  maxMs: number;
}

export type Attempt<T> = () => Promise<T>;

export const DEFAULT_POLICY: RetryPolicy = { attempts: 4, initialMs: 100, maxMs: 5000 };

/** Delay before attempt `n` (0-based): min(max, initial * 2^n), scaled by a random factor. */
export function backoffDelay(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
  const capped = Math.min(policy.maxMs, policy.initialMs * 2 ** n);
  return Math.floor(capped * random());
}

export async function withRetry<T>(attempt: Attempt<T>, policy: RetryPolicy = DEFAULT_POLICY): Promise<T> {
  let lastError: unknown;
  for (let n = 0; n < policy.attempts; n++) {
    try {
      return await attempt();
    } catch (error) {
      lastError = error;
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(policy, n)));
    }
  }
  throw lastError;
}

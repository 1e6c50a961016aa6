import { backoffDelay, DEFAULT_BACKOFF } from './backoff';

describe('backoffDelay', () => {
  const noJitter = { ...DEFAULT_BACKOFF, jitter: 0 };

  it('doubles from the initial delay up to the cap', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => backoffDelay(attempt, noJitter, () => 0.5));
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });

  it('only ever shortens the delay, by at most the jitter share', () => {
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0)).toBe(4000);
    expect(backoffDelay(3, DEFAULT_BACKOFF, () => 0.999999)).toBe(2000);
    expect(backoffDelay(50, DEFAULT_BACKOFF, () => 0)).toBe(30000);
  });

  it('treats attempt 0 like the first retry', () => {
    expect(backoffDelay(0, noJitter, () => 0)).toBe(1000);
  });
});

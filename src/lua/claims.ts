// Claim cells shared by the pool and its workers (pool.ts, offer()): a request that any worker
// could run may be sent to a busy worker ahead of time and still be given to another one that
// frees up first. Whoever moves the request's cell away from FREE first runs it: the busy worker
// when it reaches the request (RUN), or the pool when it hands the request to another worker
// (TAKEN; the busy worker then skips it).
export const CLAIM_FREE = 0;
export const CLAIM_RUN = 1;
export const CLAIM_TAKEN = 2;

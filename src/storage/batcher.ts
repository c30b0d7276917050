/** The most items one statement carries: keeps a statement's parameters and its answer small. */
const DEFAULT_MAX_BATCH = 500;

interface Pending<In, Out> {
  item: In;
  resolve: (result: Out) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for a statement that runs once per request: while one batch is in flight, the
 * items arriving meanwhile wait and go together in the next, as one multi-row statement with one
 * commit. An idle server sends one statement per request as before (no added wait); a busy one
 * sends one per round trip instead of one per request, and the commits (a WAL flush each) fall
 * from one per request to one per round trip. `run` answers each item, in order, from the rows
 * of the one statement; if it fails, every item of its batch gets the error.
 */
export class Batcher<In, Out> {
  #queue: Pending<In, Out>[] = [];
  #flushing = false;

  constructor(
    private readonly run: (items: readonly In[]) => Promise<readonly Out[]>,
    private readonly maxBatch = DEFAULT_MAX_BATCH,
  ) {}

  submit(item: In): Promise<Out> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue.splice(0, this.maxBatch);
        try {
          const results = await this.run(batch.map((pending) => pending.item));
          batch.forEach((pending, i) => pending.resolve(results[i]!));
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }
}

/**
 * The memory all request bodies in flight may hold together, shared by the
 * connections of one server. maxBodyBytes bounds one body; without this,
 * maxConnections clients each sending a large body slowly (before any
 * authentication: bodies are read whole before the handler runs) would make
 * the server hold maxConnections × maxBodyBytes. Parsers take what they
 * allocate for bodies, and give it back once the body is no longer needed.
 */
export class BodyBudget {
  readonly #limit: number;
  #inUse = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get inUse(): number {
    return this.#inUse;
  }

  /** Take `bytes` if they fit in what is left; false, taking nothing, if not. */
  take(bytes: number): boolean {
    if (this.#inUse + bytes > this.#limit) return false;
    this.#inUse += bytes;
    return true;
  }

  give(bytes: number): void {
    this.#inUse -= bytes;
  }
}

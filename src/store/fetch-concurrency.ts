// Kept apart from the importer so that the CLI can show it without loading the store.

/** Layers a pull fetches at once by default: enough to keep a distant registry's link busy. */
export const DEFAULT_FETCH_CONCURRENCY = 8;

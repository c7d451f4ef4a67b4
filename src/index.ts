// Public API of ostree-container: named exports only.
export { formatSize } from './format.js';

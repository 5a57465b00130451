/** The typed Engine API map: one module per API area, each with its status tables as data. */
export * from './spec.js';
export * from './system.js';
export * from './containers.js';
export * from './exec.js';
export * from './images.js';
export * from './networks.js';
export * from './volumes.js';
export * from './events.js';

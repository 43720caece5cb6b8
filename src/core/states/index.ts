export * from './job.ts';
export * from './stage.ts';
export * from './run.ts';
export * from './group.ts';
export { makeMachine, type Transitions } from './machine.ts';
export * from './event.ts';
export * from './alloc.ts';
